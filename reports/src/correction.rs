//! After a fault, with a time service in the guest: how the guest's clock
//! came back to the host's, read from the probe's exchanges alone (the
//! service's log is shown beside, never believed instead). Pure.
//!
//! Offsets are host minus guest (positive: the guest is behind). Between two
//! consecutive exchanges the offset can change by the correction only: a
//! change larger than any slew the kernel allows (adjtimex slews at most
//! [`MAX_SLEW`] of elapsed time, chrony's `maxslewrate` is below it) plus
//! both exchanges' uncertainty is a step of the guest's clock.

use clockstorm_protocol::Exchange;
use serde::{Deserialize, Serialize};

/// The kernel's fastest slew: tick adjustment is limited to 10 % of the
/// tick (kernel/time/ntp.c, `ADJ_TICK` bounds), chrony's `maxslewrate` to
/// 83,333 ppm by default.
pub const MAX_SLEW: f64 = 0.1;
/// A change between consecutive exchanges must be at least this (beyond
/// their uncertainty and the fastest slew) to count as a step: TCG's
/// exchange jitter reaches a few ms.
pub const STEP_MIN_NS: i64 = 10_000_000;
/// A slew is read over a stretch between steps at least this long.
pub const SLEW_STRETCH_MIN_NS: i64 = 1_000_000_000;

/// How the offset came back after one fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Correction {
    /// stepped, slewed, stepped and slewed, not corrected, nothing to correct.
    pub kind: String,
    /// Half-width of the band the offset had to return to (the recovery band).
    pub band_ns: i64,
    /// The offset's farthest distance from its level before the fault, from
    /// the fault's end until it was back for good (or until the next fault
    /// or the end of the run); positive: the guest was behind.
    pub worst_offset_ns: Option<i64>,
    /// Steps of the guest's clock, as the exchanges show them.
    pub steps: Vec<ClockStep>,
    /// The farthest the offset went past its level to the other side
    /// (beyond the band), when the service overcorrected: e.g. a guest that
    /// lost time and was then pushed ahead of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overshoot_ns: Option<i64>,
    /// Where the offset stood at the last exchange (the next fault or the
    /// run's end), when it never came back for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_offset_ns: Option<i64>,
    /// The rate the offset shrank at outside the steps, in ppm of host
    /// time (slewing), when it shrank by more than the band that way.
    pub slew_ppm: Option<f64>,
    /// The time service's log lines from the fault's start until the next
    /// fault or the end of the run (at most [`MAX_SERVICE_LINES`]).
    pub service_lines: Vec<ServiceLine>,
}

/// One step of the guest's clock between two consecutive exchanges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockStep {
    /// Host seconds from the fault's end to the first exchange after the step.
    pub after_end_s: f64,
    /// How far the guest's clock moved (positive: forward, catching up).
    pub step_ns: i64,
    /// ± bound: both exchanges' uncertainty.
    pub uncertainty_ns: i64,
}

/// A line of the time service's log, placed on the host's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServiceLine {
    /// Host seconds after the fault began.
    pub after_start_s: f64,
    pub line: String,
}

/// Lines kept per fault: a service logs a few lines per correction.
pub const MAX_SERVICE_LINES: usize = 20;

/// What [`correction`] reads.
pub struct CorrectionInputs<'a> {
    /// The exchanges between the neighbouring faults, in order.
    pub exchanges: &'a [Exchange],
    pub began_ns: i64,
    pub ended_ns: i64,
    /// Band centre (the offset before the fault) and half-width.
    pub centre_ns: i64,
    pub band_ns: i64,
    /// Where the offset was back for good, if it was (host realtime).
    pub recovered_at_ns: Option<i64>,
    /// (host realtime, line) of the service's log, in order.
    pub service_lines: &'a [(i64, String)],
    /// Host realtime the next fault begins (or the run's end).
    pub until_ns: i64,
}

/// How the offset came back. Pure.
pub fn correction(input: &CorrectionInputs) -> Correction {
    let after: Vec<&Exchange> = input.exchanges.iter().filter(|e| e.t2_ns > input.ended_ns).collect();
    let upto = input.recovered_at_ns.unwrap_or(i64::MAX);
    let window: Vec<&Exchange> = after.iter().copied().filter(|e| e.t2_ns <= upto).collect();
    let worst_offset_ns = window.iter().map(|e| e.offset_ns - input.centre_ns).max_by_key(|d| d.abs());
    // The first exchange after the fault says which way the fault moved the
    // clock; past the level on the other side is an overcorrection.
    let lost_sign = window.first().map_or(0, |e| (e.offset_ns - input.centre_ns).signum());
    let overshoot_ns = window
        .iter()
        .map(|e| (e.offset_ns - input.centre_ns, e.uncertainty_ns))
        .filter(|&(d, u)| lost_sign != 0 && d.signum() == -lost_sign && d.abs() > input.band_ns + u)
        .map(|(d, _)| d)
        .max_by_key(|d| d.abs());
    let final_offset_ns = input.recovered_at_ns.is_none().then(|| window.last().map(|e| e.offset_ns - input.centre_ns)).flatten();
    let mut steps = Vec::new();
    // Stretches between steps: a slew shows as a steady approach over one.
    let mut stretches: Vec<Vec<&Exchange>> = vec![Vec::new()];
    for (i, &b) in window.iter().enumerate() {
        if let Some(&a) = i.checked_sub(1).map(|j| &window[j]) {
            let change = b.offset_ns - a.offset_ns;
            let dt = b.t2_ns - a.t2_ns;
            let allowed = STEP_MIN_NS + a.uncertainty_ns + b.uncertainty_ns + (MAX_SLEW * dt as f64) as i64;
            if change.abs() > allowed {
                // The offset fell by what the guest's clock jumped forward.
                let uncertainty_ns = a.uncertainty_ns + b.uncertainty_ns;
                steps.push(ClockStep { after_end_s: (b.t2_ns - input.ended_ns) as f64 / 1e9, step_ns: -change, uncertainty_ns });
                stretches.push(Vec::new());
            }
        }
        stretches.last_mut().expect("one stretch at least").push(b);
    }
    // A stretch counts as slewing when it approached the centre by more than
    // twice the band beyond its ends' uncertainty, over at least
    // SLEW_STRETCH_MIN_NS: bursts of exchanges 10 ms apart scatter by more
    // than any slew would move them.
    let (mut slewed_ns, mut slew_time_ns) = (0i64, 0i64);
    for s in stretches.iter().filter(|s| s.len() >= 2) {
        let (first, last) = (s[0], s[s.len() - 1]);
        let toward = (first.offset_ns - input.centre_ns).abs() - (last.offset_ns - input.centre_ns).abs();
        let duration = last.t2_ns - first.t2_ns;
        if duration >= SLEW_STRETCH_MIN_NS && toward > 2 * input.band_ns + first.uncertainty_ns + last.uncertainty_ns {
            slewed_ns += toward;
            slew_time_ns += duration;
        }
    }
    let slew_ppm = (slew_time_ns > 0).then(|| slewed_ns as f64 / slew_time_ns as f64 * 1e6);
    let needed = worst_offset_ns.is_some_and(|w| w.abs() > input.band_ns);
    let kind = match (steps.is_empty(), slew_ppm.is_some()) {
        _ if !needed && steps.is_empty() => "nothing to correct",
        (false, true) => "stepped and slewed",
        (false, false) => "stepped",
        (true, true) => "slewed",
        (true, false) => "not corrected",
    };
    let service_lines = input
        .service_lines
        .iter()
        .filter(|(t, _)| *t >= input.began_ns && *t < input.until_ns)
        .take(MAX_SERVICE_LINES)
        .map(|(t, line)| ServiceLine { after_start_s: (t - input.began_ns) as f64 / 1e9, line: line.clone() })
        .collect();
    Correction { kind: kind.into(), band_ns: input.band_ns, worst_offset_ns, steps, overshoot_ns, final_offset_ns, slew_ppm, service_lines }
}

/// The correction in one line, for every renderer: "stepped +3.94 s at
/// +0.45 s; worst 4.17 s behind; back within ± 1.00 ms after 1.61 s".
pub fn describe(c: &Correction, recovery_s: Option<f64>) -> String {
    use crate::format::ns;
    let signed = |v: i64| format!("{}{}", if v >= 0 { "+" } else { "−" }, ns(v.unsigned_abs() as f64));
    let mut parts = vec![c.kind.clone()];
    if !c.steps.is_empty() {
        let steps: Vec<String> = c.steps.iter().map(|s| format!("{} at +{}", signed(s.step_ns), ns(s.after_end_s * 1e9))).collect();
        parts[0] = format!("{} {}", c.kind, steps.join(", "));
    }
    if let Some(ppm) = c.slew_ppm {
        parts.push(format!("slewing at {} ppm", crate::format::significant(ppm)));
    }
    let side = |v: i64| format!("{} {}", ns(v.unsigned_abs() as f64), if v >= 0 { "behind" } else { "ahead" });
    if let Some(w) = c.worst_offset_ns {
        parts.push(format!("worst {}", side(w)));
    }
    if let Some(o) = c.overshoot_ns {
        parts.push(format!("overshot to {}", side(o)));
    }
    parts.push(match recovery_s {
        Some(r) => format!("back within ± {} after {}", ns(c.band_ns as f64), ns(r * 1e9)),
        None => match c.final_offset_ns {
            Some(f) => format!("not back within ± {} by the next fault or the run's end ({} there)", ns(c.band_ns as f64), side(f)),
            None => format!("not back within ± {} by the next fault or the run's end", ns(c.band_ns as f64)),
        },
    });
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;

    fn ex(t2: i64, offset: i64) -> Exchange {
        Exchange { seq: 0, t1_ns: t2, t2_ns: t2, t3_ns: t2, offset_ns: offset, uncertainty_ns: 500_000, burst: false, shared_memory: false }
    }

    fn inputs<'a>(exchanges: &'a [Exchange], recovered: Option<i64>, lines: &'a [(i64, String)]) -> CorrectionInputs<'a> {
        CorrectionInputs {
            exchanges,
            began_ns: 4 * S,
            ended_ns: 9 * S,
            centre_ns: 0,
            band_ns: MS,
            recovered_at_ns: recovered,
            service_lines: lines,
            until_ns: 30 * S,
        }
    }

    #[test]
    fn a_step_shows_as_one_jump_between_exchanges() {
        // The guest fell 4.17 s behind; chrony stepped 3.94 s, then the rest.
        let x = [ex(3 * S, 0), ex(9 * S + 50 * MS, 4_166 * MS), ex(9 * S + 150 * MS, 4_166 * MS), ex(9 * S + 450 * MS, 225 * MS), ex(9 * S + 650 * MS, 0)];
        let lines = [(9 * S + 400 * MS, "System clock was stepped by 3.941228 seconds".to_string()), (31 * S, "later".into())];
        let c = correction(&inputs(&x, Some(9 * S + 650 * MS), &lines));
        assert_eq!(c.kind, "stepped");
        assert_eq!(c.worst_offset_ns, Some(4_166 * MS));
        assert_eq!(c.steps.len(), 2, "{:?}", c.steps);
        assert_eq!(c.steps[0].step_ns, 3_941 * MS);
        assert!((c.steps[0].after_end_s - 0.45).abs() < 1e-9);
        assert_eq!(c.steps[1].step_ns, 225 * MS);
        assert_eq!(c.service_lines.len(), 1);
        assert_eq!(describe(&c, Some(0.65)), "stepped +3.94 s at +450 ms, +225 ms at +650 ms; worst 4.17 s behind; back within ± 1.00 ms after 650 ms");
        assert!((c.service_lines[0].after_start_s - 5.4).abs() < 1e-9);
    }

    #[test]
    fn a_slew_shrinks_the_offset_steadily() {
        // 400 ms behind, corrected at 83,333 ppm (chrony's maxslewrate): 8.3 ms per 100 ms.
        let mut x = vec![ex(3 * S, 0)];
        let rate = 83_333; // ns per ms of host time
        for i in 0..=48 {
            let t = 9 * S + 100 * MS + i * 100 * MS;
            x.push(ex(t, (400 * MS - i * 100 * rate).max(0)));
        }
        let c = correction(&inputs(&x, None, &[]));
        assert_eq!(c.kind, "slewed");
        assert!(c.steps.is_empty());
        let ppm = c.slew_ppm.unwrap();
        assert!((ppm - 83_333.0).abs() < 1_000.0, "{ppm}");
    }

    #[test]
    fn a_guest_left_behind_is_not_corrected_and_one_on_time_had_nothing_to_correct() {
        let behind = [ex(3 * S, 0), ex(9 * S + 100 * MS, 4_687 * MS), ex(12 * S, 4_687 * MS + 300_000)];
        let c = correction(&inputs(&behind, None, &[]));
        assert_eq!((c.kind.as_str(), c.worst_offset_ns), ("not corrected", Some(4_687 * MS + 300_000)));
        let on_time = [ex(3 * S, 0), ex(9 * S + 100 * MS, 200_000), ex(12 * S, -300_000)];
        assert_eq!(correction(&inputs(&on_time, Some(9 * S + 100 * MS), &[])).kind, "nothing to correct");
    }

    #[test]
    fn an_overcorrection_past_the_host_is_named_with_where_it_ended() {
        // Measured (scenario time-service, acpi_pm, Debian's chrony.conf):
        // 4.69 s behind, stepped 4.50 s at +53 s, then slewed the 184 ms
        // left the wrong way, to 1.26 s ahead by the run's end.
        let mut x = vec![ex(3 * S, 0), ex(9 * S + 100 * MS, 4_687 * MS), ex(62 * S, 4_687 * MS)];
        x.push(ex(63 * S, 184 * MS));
        for i in 0..=40 {
            x.push(ex(120 * S + i * S, 184 * MS - i * 36 * MS));
        }
        let c = correction(&inputs(&x, None, &[]));
        assert_eq!(c.kind, "stepped");
        assert_eq!(c.overshoot_ns, Some(184 * MS - 40 * 36 * MS));
        assert_eq!(c.final_offset_ns, Some(184 * MS - 40 * 36 * MS));
        let text = describe(&c, None);
        assert!(text.contains("overshot to 1.26 s ahead") && text.ends_with("(1.26 s ahead there)"), "{text}");
        // A correction that stops at the level overshoots nothing.
        let clean = [ex(3 * S, 0), ex(9 * S + 100 * MS, 4_687 * MS), ex(10 * S, 0), ex(11 * S, 0), ex(12 * S, 0)];
        let c = correction(&inputs(&clean, Some(10 * S), &[]));
        assert_eq!((c.overshoot_ns, c.final_offset_ns), (None, None));
    }
}
