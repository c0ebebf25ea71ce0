//! Per fault: how much time the guest lost across it, and how sure we are.
//!
//! Time lost = (host elapsed) − (guest elapsed) over a window that brackets
//! the fault, which is the change of the host−guest offset from the last good
//! exchange before the fault to the first good one after it. "Good" is the
//! smallest round trip among a few exchanges on each side (the probe bursts
//! exchanges right after a gap, so the after-side has tight ones). The
//! uncertainty is the sum of the two exchanges' uncertainties: a bound, not
//! a standard error.

use clockstorm_protocol::{Exchange, FaultDetail, FaultEffect, FaultKindName, RunRecord};
use serde::{Deserialize, Serialize};

use crate::kernel_events::KernelEvent;

/// Exchanges considered on each side of a fault.
pub const BRACKET_EXCHANGES: usize = 8;
/// Kernel lines up to this long after a fault ended count as its reaction:
/// the clocksource watchdog runs every 0.5 s and the soft-lockup detector
/// reports within seconds of the vCPU coming back.
pub const KERNEL_REACTION_NS: i64 = 10_000_000_000;

/// Windows that arrive up to this long after a fault ended still count as
/// showing it (a window is sent at its end, and the probe catches up).
pub const WINDOW_SLACK_NS: i64 = 1_500_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultSummary {
    pub index: usize,
    pub kind: FaultKindName,
    pub planned_start_ms: u64,
    pub planned_duration_ms: u64,
    /// How long it was in effect, as the host measured it.
    pub achieved_ns: u64,
    pub error: Option<String>,
    /// Time the guest lost across the fault (positive: the guest is behind), ± bound;
    /// net of the guest clock's own rate where `rate` says so.
    pub lost_ns: Option<i64>,
    pub lost_uncertainty_ns: Option<i64>,
    /// The part of the offset's change across the fault that the guest
    /// clock's measured rate explains (it runs fast or slow with or without
    /// a fault), taken out of `lost_ns`. None: no rate measured, or a time
    /// service steers the clock (its rate is not the clock's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateShare>,
    /// Largest gap between clock reads in the windows around the fault.
    pub max_gap_ns: Option<u64>,
    pub detail: Option<FaultDetail>,
    /// What the guest kernel said about clocks and stalls during the fault
    /// and in the following [`KERNEL_REACTION_NS`], parsed (see
    /// `kernel_events`), each with its time after the fault began.
    pub kernel_events: Vec<FaultKernelEvent>,
    /// Host seconds from the fault's end until the offset to the host was
    /// back in its band from before the fault (and stayed for the next
    /// exchanges); None: never, within the run (a guest that lost time
    /// stays behind unless something steps its clock), or no exchanges.
    pub recovery_s: Option<f64>,
    /// How the offset came back, read from the exchanges, with the time
    /// service's log beside; only for runs with a time service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<crate::correction::Correction>,
    /// Stretches in which the guest's clock stood still, first seen during
    /// the fault or in the [`KERNEL_REACTION_NS`] after it (see `liveness`).
    #[serde(default)]
    pub clock_stops: Vec<FaultClockStop>,
    /// How long the probe's SCHED_FIFO timer thread was kept off the CPU
    /// after the samplers ran again, in ns: the kernel's RT throttling
    /// (every RT task held off, about as long as the freeze was charged to
    /// one). None when it ran as soon as they did.
    #[serde(default)]
    pub rt_throttled_ns: Option<u64>,
    /// The clocks that stepped back in the windows that arrived during the
    /// fault or in the [`KERNEL_REACTION_NS`] after it, one entry
    /// per window (docs/measurements.md, "Backward steps"). What the model
    /// expects of them: `backsteps::explain`.
    #[serde(default)]
    pub backsteps: Vec<Backstep>,
}

/// Steps back of one clock in one sampler window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Backstep {
    /// `CLOCK_MONOTONIC`, `CLOCK_MONOTONIC_RAW`, `CLOCK_REALTIME`, or `TSC`
    /// (the raw counter read beside them, whose step size is not recorded).
    pub clock: String,
    pub steps: u64,
    /// The largest step back, in ns (0 for the TSC).
    pub worst_ns: u64,
    /// Host seconds after the fault began that the window arrived.
    pub after_start_s: f64,
}

impl FaultSummary {
    /// Steps back of the guest's clocks (the TSC left out) around the fault.
    pub fn clock_backward_steps(&self) -> u64 {
        self.backsteps.iter().filter(|b| b.clock != "TSC").map(|b| b.steps).sum()
    }

    /// The largest step back of the guest's clocks around the fault, in ns.
    pub fn worst_backward_ns(&self) -> u64 {
        self.backsteps.iter().map(|b| b.worst_ns).max().unwrap_or(0)
    }

    /// What the guest did in the fault's aftermath besides its kernel
    /// lines, each with its host seconds after the fault began and a
    /// sentence: clocks that stopped advancing, RT throttling.
    pub fn findings(&self) -> Vec<(Option<f64>, String)> {
        let mut out = Vec::new();
        for FaultClockStop { after_start_s, stop: c, during_fault_ns } in &self.clock_stops {
            let at = Some(*after_start_s);
            let state = if c.recovered() { "advanced again" } else { "had not advanced again when the run ended" };
            let held = if *during_fault_ns > 0 {
                format!(
                    " ({:.2} s of it while the fault was in effect, {:.2} s outside it)",
                    *during_fault_ns as f64 / 1e9,
                    (c.stopped_ns() - during_fault_ns).max(0) as f64 / 1e9
                )
            } else {
                String::new()
            };
            out.push((
                at,
                format!(
                    "clock stopped: CLOCK_{} did not advance for {:.2} s of host time{held} and {state} ({})",
                    c.clock.to_uppercase(),
                    c.stopped_ns() as f64 / 1e9,
                    c.evidence()
                ),
            ));
        }
        // The clock's own rate, where it moved the offset by a good part of
        // the bound: under TCG the tsc clocksource ran ~8 ppm fast against
        // the host and came out 73 µs ahead of a 9 s freeze it lost nothing
        // to (the kernel's calibration of the TSC, not the freeze).
        if let (Some(r), Some(bound)) = (self.rate, self.lost_uncertainty_ns) {
            if r.rate_ns != 0 && r.rate_ns.abs() * 2 >= bound {
                let pace = if r.ppm < 0.0 { "fast" } else { "slow" };
                out.push((
                    None,
                    format!(
                        "clock rate: it runs {:.1} ppm {pace} against the host outside the faults; over the {:.1} s across this fault that alone puts it {}, of the {} it came out; the time lost is net of it",
                        r.ppm.abs(),
                        r.span_ns as f64 / 1e9,
                        ahead_or_behind(r.rate_ns),
                        ahead_or_behind(r.raw_lost_ns),
                    ),
                ));
            }
        }
        if let Some(held) = self.rt_throttled_ns {
            out.push((
                None,
                format!(
                    "RT throttled: the probe's SCHED_FIFO timer thread ran {:.2} s after the samplers did (the kernel held every RT task off its CPU)",
                    held as f64 / 1e9
                ),
            ));
        }
        out
    }
}

/// An offset change as the guest clock's place against the host's.
fn ahead_or_behind(lost_ns: i64) -> String {
    let side = if lost_ns < 0 { "ahead" } else { "behind" };
    format!("{} {side}", crate::format::ns(lost_ns.unsigned_abs() as f64))
}

/// A clock stop whose value was read up to this long before a fault began
/// is that fault's: the beacons that read it come every 250 ms.
pub const STOP_LEAD_NS: i64 = 500_000_000;

/// An RT hold shorter than this is scheduling noise under TCG, not throttling.
pub const RT_THROTTLE_MIN_NS: u64 = 100_000_000;

/// How long RT tasks were held off after a fault: the samplers' gap that
/// ended latest among those arriving with the fault (guest CLOCK_MONOTONIC
/// at its end) against the timer thread's stall spanning that moment. Pure.
pub fn rt_throttled_ns(sampler_gap_ends: &[u64], timer_stalls: &[clockstorm_protocol::TimerStall]) -> Option<u64> {
    let resumed = *sampler_gap_ends.iter().max()?;
    timer_stalls
        .iter()
        .filter(|t| t.at_ns.saturating_sub(t.gap_ns) <= resumed && t.at_ns > resumed)
        .map(|t| t.at_ns - resumed)
        .max()
        .filter(|&held| held >= RT_THROTTLE_MIN_NS)
}

/// A stretch in which the guest's clock did not advance, placed relative to
/// the fault it follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultClockStop {
    /// Host seconds from the fault's start to the beacon that read the value
    /// the clock did not get past.
    pub after_start_s: f64,
    pub stop: crate::liveness::ClockStop,
    /// Host ns of the stop that fell while the fault was in effect (a
    /// guest frozen or paused reads nothing then; its clock's own stillness
    /// is the rest).
    #[serde(default)]
    pub during_fault_ns: i64,
}

/// A kernel event, placed relative to the fault it follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultKernelEvent {
    /// Host seconds from the fault's start to the arrival of the event's first line.
    pub after_start_s: f64,
    pub event: KernelEvent,
}

/// What a clocksource change cost: the offset step across it, measured like
/// time lost across a fault (a switch that keeps time costs nothing; one
/// made after the watchdog gave up on a clock that lost time shows the loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwitchCost {
    pub from: String,
    pub to: String,
    /// Host seconds since the timeline origin when the probe reported it.
    pub at_s: f64,
    pub offset_step_ns: Option<i64>,
    pub uncertainty_ns: Option<i64>,
}

/// The cost of the change reported at host time `at` (realtime ns).
pub fn switch_cost(exchanges: &[Exchange], at: i64, origin: i64, from: &str, to: &str) -> SwitchCost {
    // The probe polls the clocksource every 100 ms: the change happened up
    // to a poll before it was reported.
    let step = time_lost(exchanges, at - 200_000_000, at);
    SwitchCost {
        from: from.to_owned(),
        to: to.to_owned(),
        at_s: (at - origin) as f64 / 1e9,
        offset_step_ns: step.map(|s| s.change_ns),
        uncertainty_ns: step.map(|s| s.uncertainty_ns),
    }
}

/// Exchanges right after a fault agree when their offsets differ by no more
/// than their uncertainties and this (TCG's exchange jitter); past it, the
/// clock was being corrected.
pub const AGREE_SLACK_NS: i64 = 2_000_000;

/// Half-width of the offset band at least: exchanges under TCG scatter by
/// up to a millisecond on an idle host.
pub const RECOVERY_BAND_MIN_NS: i64 = 1_000_000;
/// Exchanges in a row that must be in the band to call the offset recovered.
pub const RECOVERY_EXCHANGES: usize = 3;

/// What [`attribute`] works from, collected in one pass over a run.
pub struct FaultInputs<'a> {
    /// (index, planned start, planned duration in ms) of each fault started.
    pub planned: &'a [(usize, u64, u64)],
    pub effects: &'a [FaultEffect],
    /// Exchanges after the sync.
    pub exchanges: &'a [Exchange],
    /// Each sampler window, placed where its largest gap ended.
    pub windows: &'a [WindowPoint],
    /// Clock events with the host time their first line was printed (from
    /// the guest's own stamp, else its arrival).
    pub kernel: &'a [(i64, KernelEvent)],
    /// Sampler gap events: (host realtime of arrival, guest CLOCK_MONOTONIC at the gap's end).
    pub sampler_gaps: &'a [(i64, u64)],
    pub timer_stalls: &'a [clockstorm_protocol::TimerStall],
    pub clock_stops: &'a [crate::liveness::ClockStop],
    /// (host realtime, line) of the time service's log; empty: no service.
    pub service_lines: &'a [(i64, String)],
    /// The guest clock's rate against the host's outside the faults
    /// (`drift`); a fault's time lost is net of what it explains.
    pub drift: Option<crate::drift::Drift>,
}

/// The guest clock's rate, applied across one fault.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateShare {
    /// The rate (offset slope, ppm: negative, the guest clock runs fast).
    pub ppm: f64,
    /// Host time between the two exchanges that bracket the fault.
    pub span_ns: i64,
    /// ppm × span: the change the rate alone makes over the span.
    pub rate_ns: i64,
    /// The offset's change across the fault before the rate was taken out.
    pub raw_lost_ns: i64,
}

/// (lost, uncertainty, rate) net of `drift` over the step's span: the rate
/// explains ppm × span of the change, and its 95 % interval's half-width
/// over the span joins the uncertainty. Only a rate its interval sets
/// apart from zero is taken out: a rate the exchanges cannot establish
/// would only move the figure by noise. Pure.
pub fn net_of_rate(step: OffsetStep, drift: Option<crate::drift::Drift>) -> (i64, i64, Option<RateShare>) {
    let Some(d) = drift.filter(|d| d.low > 0.0 || d.high < 0.0) else { return (step.change_ns, step.uncertainty_ns, None) };
    let span = step.span_ns as f64;
    let rate_ns = (d.ppm * 1e-6 * span).round() as i64;
    let spread = ((d.high - d.low) / 2.0 * 1e-6 * span).abs().ceil() as i64;
    let share = RateShare { ppm: d.ppm, span_ns: step.span_ns, rate_ns, raw_lost_ns: step.change_ns };
    (step.change_ns - rate_ns, step.uncertainty_ns + spread, Some(share))
}

/// What [`attribute`] reads of one sampler window.
#[derive(Debug, Clone, Copy, Default)]
pub struct WindowPoint {
    /// Host time where its largest gap ended, else its arrival.
    pub at_ns: i64,
    /// Host time it arrived.
    pub arrived_ns: i64,
    pub max_gap_ns: u64,
    /// The clock it read.
    pub clock: Option<clockstorm_protocol::ClockId>,
    pub backward_steps: u64,
    pub worst_backward_ns: u64,
    pub tsc_backward_steps: u64,
}

/// The name of a clock the probe samples.
pub fn clock_name(clock: Option<clockstorm_protocol::ClockId>) -> &'static str {
    use clockstorm_protocol::ClockId;
    match clock {
        Some(ClockId::MonotonicRaw) => "CLOCK_MONOTONIC_RAW",
        Some(ClockId::Realtime) => "CLOCK_REALTIME",
        Some(ClockId::Monotonic) | None => "CLOCK_MONOTONIC",
    }
}

/// One summary per fault that ended, in timeline order.
pub fn summarize(records: &[RunRecord]) -> Vec<FaultSummary> {
    crate::summarize(records).faults
}

/// Attributes time lost, gaps and kernel events to each fault that ended.
pub fn attribute(input: &FaultInputs) -> Vec<FaultSummary> {
    let owner = |t: i64| -> Option<usize> {
        input
            .effects
            .iter()
            .filter(|e| e.began_realtime_ns <= t && t <= e.ended_realtime_ns + KERNEL_REACTION_NS)
            .max_by_key(|e| e.began_realtime_ns)
            .map(|e| e.index)
    };
    let owners: Vec<Option<usize>> = input.kernel.iter().map(|(t, _)| owner(*t)).collect();
    // A clock stop belongs to the latest fault that began by its first
    // beacon, or at most STOP_LEAD_NS after it (the value the clock did not
    // get past may have been read by the last beacon before a freeze:
    // seen, a 9.49 s acpi_pm stop across a 9 s freeze, its value read just
    // before it, charged to the 5 s freeze 8 s earlier), and before the
    // clock moved again. A stop that began after one freeze and lasted
    // through the next stays the first's.
    let stop_owner = |c: &crate::liveness::ClockStop| -> Option<usize> {
        let until = c.until_ns();
        input
            .effects
            .iter()
            .filter(|e| e.began_realtime_ns <= (c.first_seen_ns + STOP_LEAD_NS).min(until) && c.first_seen_ns <= e.ended_realtime_ns + KERNEL_REACTION_NS)
            .max_by_key(|e| e.began_realtime_ns)
            .map(|e| e.index)
    };
    input
        .effects
        .iter()
        .map(|e| {
            let (planned_start_ms, planned_duration_ms) = input.planned.iter().find(|p| p.0 == e.index).map(|p| (p.1, p.2)).unwrap_or_default();
            // Bracket with exchanges between the neighbouring faults only:
            // when none came between this fault and the next, the step
            // across both is not this fault's (seen once: a 9 s freeze
            // charged with the 3 s pause after it).
            let exchanges = exchanges_between_neighbours(input.exchanges, input.effects, e);
            // A time service steers the clock's rate: what the exchanges
            // show of it is the service's, not the clock's, and is left in.
            let drift = input.drift.filter(|_| input.service_lines.is_empty());
            // A clock that stood still after the fault (a kernel that
            // refused the counter's delta waits for the next wrap) has not
            // lost all it will until it runs again: an exchange during the
            // stop charges the fault with the stop's start only. Seen in CI:
            // an exchange due as a 1.8 s freeze began ran right after it,
            // and a fake kernel that refuses above 0.3 of a wrap was charged
            // 1.80 s instead of the wrap it lost.
            let settled = input
                .clock_stops
                .iter()
                .filter(|c| c.recovered() && stop_owner(c) == Some(e.index))
                .map(|c| c.until_ns())
                .fold(e.ended_realtime_ns, i64::max);
            let lost = time_lost(&exchanges, e.began_realtime_ns, settled).map(|step| net_of_rate(step, drift));
            let near: Vec<&WindowPoint> = input
                .windows
                .iter()
                .filter(|w| w.at_ns >= e.began_realtime_ns && w.at_ns <= e.ended_realtime_ns + WINDOW_SLACK_NS)
                .collect();
            let max_gap_ns = near.iter().map(|w| w.max_gap_ns).max();
            FaultSummary {
                index: e.index,
                kind: e.kind,
                planned_start_ms,
                planned_duration_ms,
                achieved_ns: e.achieved_ns,
                error: e.error.clone(),
                lost_ns: lost.map(|l| l.0),
                lost_uncertainty_ns: lost.map(|l| l.1),
                rate: lost.and_then(|l| l.2),
                max_gap_ns,
                detail: e.detail.clone(),
                kernel_events: input
                    .kernel
                    .iter()
                    .zip(&owners)
                    .filter(|(_, owner)| **owner == Some(e.index))
                    .map(|((t, k), _)| FaultKernelEvent { after_start_s: (t - e.began_realtime_ns) as f64 / 1e9, event: k.clone() })
                    .collect(),
                recovery_s: recovery_s(&exchanges, e.began_realtime_ns, e.ended_realtime_ns),
                correction: (!input.service_lines.is_empty())
                    .then(|| recovery(&exchanges, e.began_realtime_ns, e.ended_realtime_ns))
                    .flatten()
                    .map(|r| {
                        let until_ns = input.effects.iter().map(|f| f.began_realtime_ns).filter(|&t| t > e.ended_realtime_ns).min().unwrap_or(i64::MAX);
                        crate::correction::correction(&crate::correction::CorrectionInputs {
                            exchanges: &exchanges,
                            began_ns: e.began_realtime_ns,
                            ended_ns: e.ended_realtime_ns,
                            centre_ns: r.centre_ns,
                            band_ns: r.band_ns,
                            recovered_at_ns: r.recovered_at_ns,
                            service_lines: input.service_lines,
                            until_ns,
                        })
                    }),
                clock_stops: input
                    .clock_stops
                    .iter()
                    .filter(|c| stop_owner(c) == Some(e.index))
                    .map(|c| FaultClockStop {
                        after_start_s: (c.first_seen_ns - e.began_realtime_ns) as f64 / 1e9,
                        stop: c.clone(),
                        during_fault_ns: (c.until_ns().min(e.ended_realtime_ns) - c.first_seen_ns.max(e.began_realtime_ns)).max(0),
                    })
                    .collect(),
                rt_throttled_ns: {
                    let ends: Vec<u64> = input
                        .sampler_gaps
                        .iter()
                        .filter(|(t, _)| *t >= e.began_realtime_ns && *t <= e.ended_realtime_ns + WINDOW_SLACK_NS)
                        .map(|g| g.1)
                        .collect();
                    rt_throttled_ns(&ends, input.timer_stalls)
                },
                // By arrival, as kernel lines are: the window with the step
                // after a refused delta closes only once the clock, which
                // stood still until the next wrap, has moved on again.
                backsteps: input
                    .windows
                    .iter()
                    .filter(|w| owner(w.arrived_ns) == Some(e.index))
                    .flat_map(|w| backsteps_of(w, e.began_realtime_ns))
                    .collect(),
            }
        })
        .collect()
}

/// The steps back a window saw, as placed after a fault that began at `began`.
fn backsteps_of(w: &WindowPoint, began: i64) -> Vec<Backstep> {
    let after_start_s = (w.arrived_ns - began) as f64 / 1e9;
    let mut out = Vec::new();
    if w.backward_steps > 0 {
        out.push(Backstep { clock: clock_name(w.clock).into(), steps: w.backward_steps, worst_ns: w.worst_backward_ns, after_start_s });
    }
    if w.tsc_backward_steps > 0 {
        out.push(Backstep { clock: "TSC".into(), steps: w.tsc_backward_steps, worst_ns: 0, after_start_s });
    }
    out
}

/// The exchanges after the fault before `fault` ended and before the fault
/// after it began.
fn exchanges_between_neighbours(exchanges: &[Exchange], effects: &[FaultEffect], fault: &FaultEffect) -> Vec<Exchange> {
    let after = effects.iter().map(|f| f.ended_realtime_ns).filter(|&t| t < fault.began_realtime_ns).max().unwrap_or(i64::MIN);
    let before = effects.iter().map(|f| f.began_realtime_ns).filter(|&t| t > fault.ended_realtime_ns).min().unwrap_or(i64::MAX);
    exchanges.iter().filter(|x| x.t2_ns > after && x.t2_ns < before).copied().collect()
}

/// See [`FaultSummary::recovery_s`].
pub fn recovery_s(exchanges: &[Exchange], began: i64, ended: i64) -> Option<f64> {
    recovery(exchanges, began, ended)?.recovered_at_ns.map(|t| (t - ended) as f64 / 1e9)
}

/// The band the offset must come back to, and where it did for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    pub centre_ns: i64,
    pub band_ns: i64,
    /// Host realtime of the first exchange from which every later one (to
    /// the next fault) is inside the band, at least [`RECOVERY_EXCHANGES`]
    /// of them; None: never.
    pub recovered_at_ns: Option<i64>,
}

/// The band is centred on the tightest of the exchanges before the fault;
/// its half-width is their spread plus that exchange's uncertainty, at
/// least [`RECOVERY_BAND_MIN_NS`]. None without exchanges before it.
pub fn recovery(exchanges: &[Exchange], began: i64, ended: i64) -> Option<Recovery> {
    let before: Vec<&Exchange> = exchanges.iter().filter(|e| e.t2_ns < began).rev().take(BRACKET_EXCHANGES).collect();
    let centre = before.iter().min_by_key(|e| e.uncertainty_ns)?;
    let spread = before.iter().map(|e| (e.offset_ns - centre.offset_ns).abs()).max().unwrap_or(0);
    let half_width = (spread + centre.uncertainty_ns).max(RECOVERY_BAND_MIN_NS);
    let after: Vec<&Exchange> = exchanges.iter().filter(|e| e.t2_ns > ended).collect();
    let inside = |e: &Exchange| (e.offset_ns - centre.offset_ns).abs() <= half_width + e.uncertainty_ns;
    // Back and staying: after the last exchange outside the band.
    let first_for_good = after.iter().rposition(|e| !inside(e)).map_or(0, |i| i + 1);
    let recovered_at_ns = (after.len() - first_for_good >= RECOVERY_EXCHANGES).then(|| after[first_for_good].t2_ns);
    Some(Recovery { centre_ns: centre.offset_ns, band_ns: half_width, recovered_at_ns })
}

/// The offset's change across a fault, from the exchange before it to the
/// one after it that [`time_lost`] picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetStep {
    /// After minus before (positive: the guest fell behind).
    pub change_ns: i64,
    pub uncertainty_ns: i64,
    /// Host time between the two exchanges.
    pub span_ns: i64,
}

/// The offset's change across a fault from `began` to `ended` (host
/// realtime), or None without exchanges on both sides. Pure.
pub fn time_lost(exchanges: &[Exchange], began: i64, ended: i64) -> Option<OffsetStep> {
    let before = exchanges.iter().filter(|e| e.t2_ns < began).rev().take(BRACKET_EXCHANGES).min_by_key(|e| e.uncertainty_ns)?;
    // The tightest of the first exchanges after the fault that still agree
    // with the first one: a time service in the guest may step or slew the
    // clock right after the fault, and an exchange after its correction
    // would charge the fault with less than it cost (seen: chrony polling
    // every 0.25 s stepped a lost wrap back between the third and the
    // tightest of the eight, and the fault was charged 4.14 s of 4.69 s).
    let mut following = exchanges.iter().filter(|e| e.t2_ns > ended);
    let first = following.next()?;
    let agree = |e: &&Exchange| (e.offset_ns - first.offset_ns).abs() <= e.uncertainty_ns + first.uncertainty_ns + AGREE_SLACK_NS;
    let after = std::iter::once(first).chain(following.take(BRACKET_EXCHANGES - 1).take_while(agree)).min_by_key(|e| e.uncertainty_ns)?;
    Some(OffsetStep {
        change_ns: after.offset_ns - before.offset_ns,
        uncertainty_ns: after.uncertainty_ns + before.uncertainty_ns,
        span_ns: after.t2_ns - before.t2_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clockstorm_protocol::{GuestMessage, HarnessEvent, RecordBody};

    /// A record written at host time `t`.
    fn record_at(t: i64, body: RecordBody) -> RunRecord {
        RunRecord { host_realtime_ns: t, host_monotonic_ns: t as u64, body }
    }

    /// A freeze that held from `began` to `ended` (host realtime).
    fn freeze_effect(index: usize, began: i64, ended: i64) -> FaultEffect {
        FaultEffect {
            index,
            kind: FaultKindName::Freeze,
            began_realtime_ns: began,
            began_monotonic_ns: 0,
            ended_realtime_ns: ended,
            ended_monotonic_ns: 0,
            achieved_ns: 0,
            detail: None,
            error: None,
        }
    }

    /// An exchange whose host stamp is `t2` and whose offset is `offset`, ± `unc`.
    fn ex(t2: i64, offset: i64, unc: i64) -> Exchange {
        let mid = t2 - offset;
        Exchange::from_timestamps(0, mid - unc, t2, mid + unc)
    }

    #[test]
    fn the_offset_step_across_the_fault_is_the_time_lost() {
        let s = 1_000_000_000;
        // Before: offset ~0. The fault from 10 s to 16 s costs the guest one
        // acpi_pm wrap (4.687 s): after it, the host is 4.687 s ahead.
        let exchanges = vec![
            ex(8 * s, 100, 300_000),
            ex(9 * s, -50, 200_000), // the tightest before
            ex(9 * s + 900_000_000, 20, 900_000),
            ex(16 * s + 10_000_000, 4_687_000_000, 2_000_000),
            ex(16 * s + 12_000_000, 4_687_000_100, 250_000), // the tightest after
            ex(17 * s, 4_687_000_300, 300_000),
        ];
        let step = time_lost(&exchanges, 10 * s, 16 * s).unwrap();
        assert_eq!(step, OffsetStep { change_ns: 4_687_000_150, uncertainty_ns: 450_000, span_ns: 7 * s + 12_000_000 });
        assert_eq!(time_lost(&exchanges, 1, 2), None, "nothing before");
        assert_eq!(time_lost(&exchanges, 20 * s, 21 * s), None, "nothing after");
        assert_eq!(recovery_s(&exchanges, 10 * s, 16 * s), None, "a guest that lost a wrap stays behind");
    }

    #[test]
    fn a_correction_right_after_the_fault_is_not_charged_to_it() {
        let s = 1_000_000_000;
        // chrony steps the lost wrap back 300 ms after the fault; the
        // tightest exchange of the eight comes after the step.
        let exchanges = vec![
            ex(9 * s, 0, 200_000),
            ex(16 * s + 10_000_000, 4_687_000_000, 900_000),
            ex(16 * s + 20_000_000, 4_687_000_200, 600_000),
            ex(16 * s + 400_000_000, 546_000_000, 5_000), // after the step
            ex(16 * s + 500_000_000, 546_000_100, 5_000),
        ];
        let step = time_lost(&exchanges, 10 * s, 16 * s).unwrap();
        assert_eq!((step.change_ns, step.uncertainty_ns), (4_687_000_200, 800_000));
    }

    #[test]
    fn the_offset_recovers_when_it_is_back_in_its_band_for_good() {
        let s = 1_000_000_000;
        let mut exchanges: Vec<Exchange> = (0..8).map(|i| ex(2 * s + i * 100_000_000, 100_000 * (i % 2), 200_000)).collect();
        exchanges.push(ex(6 * s + 100_000_000, 50_000_000, 200_000)); // still off after the fault
        exchanges.push(ex(6 * s + 300_000_000, 200_000, 200_000)); // back in, but only once
        exchanges.push(ex(6 * s + 400_000_000, 9_000_000, 200_000));
        for i in 0..3 {
            exchanges.push(ex(6 * s + 500_000_000 + i * 100_000_000, 150_000, 200_000));
            // back for good
        }
        assert_eq!(recovery_s(&exchanges, 4 * s, 6 * s), Some(0.5));
    }

    #[test]
    fn kernel_lines_during_and_after_a_fault_are_attached_to_it() {
        use clockstorm_protocol::KernelLog;
        let s = 1_000_000_000i64;
        let rec = |t: i64, body| RunRecord { host_realtime_ns: t, host_monotonic_ns: t as u64, body };
        let klog = |m: &str| {
            let ts_us = m.len() as u64; // distinct per line, enough to place them
            RecordBody::Guest(GuestMessage::KernelLog(KernelLog { seq: 0, ts_us, level: 4, message: m.into(), read_realtime_ns: None }))
        };
        let effect = FaultEffect {
            index: 0,
            kind: FaultKindName::Freeze,
            began_realtime_ns: 10 * s,
            began_monotonic_ns: 0,
            ended_realtime_ns: 16 * s,
            ended_monotonic_ns: 0,
            achieved_ns: 6 * s as u64,
            detail: None,
            error: None,
        };
        let records = vec![
            rec(s, klog("clocksource: Switched to clocksource tsc")), // boot: before the fault
            rec(16 * s + 500_000_000, klog("clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720")),
            rec(17 * s, klog("virtio_net: link up")),                               // not about clocks
            rec(40 * s, klog("watchdog: BUG: soft lockup - CPU#0 stuck for 23s!")), // too late
            rec(16 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect))),
        ];
        let f = &summarize(&records)[0];
        assert_eq!(f.kernel_events.len(), 1, "{:?}", f.kernel_events);
        assert_eq!(f.kernel_events[0].event.kind(), "clocksource_long_readout");
        assert_eq!(f.kernel_events[0].after_start_s, 6.5);
    }

    #[test]
    fn a_kernel_event_belongs_to_the_latest_fault_before_it() {
        use clockstorm_protocol::KernelLog;
        let s = 1_000_000_000i64;
        let (rec, effect) = (record_at, freeze_effect);
        let line = "clocksource: Long readout interval, skipping watchdog check: cs_nsec: 5499708708 wd_nsec: 5499662080";
        let records = vec![
            rec(
                13 * s,
                RecordBody::Guest(GuestMessage::KernelLog(KernelLog {
                    seq: 1,
                    ts_us: 13_000_000,
                    level: 4,
                    message: line.into(),
                    read_realtime_ns: None,
                })),
            ),
            rec(4 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(0, 2 * s, 4 * s)))),
            rec(12 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(1, 7 * s, 12 * s)))),
        ];
        let f = summarize(&records);
        assert!(f[0].kernel_events.is_empty(), "fault 0 ended 9 s before: {:?}", f[0].kernel_events);
        assert_eq!(f[1].kernel_events.len(), 1);
    }

    #[test]
    fn a_kernel_line_goes_where_the_guest_read_it_not_where_it_arrived() {
        use clockstorm_protocol::{KernelLog, Synced};
        let s = 1_000_000_000i64;
        let (rec, effect) = (record_at, freeze_effect);
        let exchange = |t: i64| rec(t, RecordBody::Guest(GuestMessage::Exchange(ex(t, 0, 100_000))));
        let line = "clocksource: Long readout interval, skipping watchdog check: cs_nsec: 2099708708 wd_nsec: 2099662080";
        // The guest read the line 0.2 s after fault 0 ended; the channel
        // delivered it only after fault 1 (it was silenced meanwhile).
        let log = KernelLog { seq: 1, ts_us: 4_200_000, level: 4, message: line.into(), read_realtime_ns: Some(4 * s + 200_000_000) };
        let records = vec![
            rec(s / 2, RecordBody::Guest(GuestMessage::Synced(Synced { best: ex(s / 2, 0, 100_000), step_ns: 0 }))),
            exchange(s),
            exchange(5 * s),
            exchange(13 * s),
            rec(4 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(0, 2 * s, 4 * s)))),
            rec(12 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect(1, 7 * s, 12 * s)))),
            rec(13 * s + 100_000_000, RecordBody::Guest(GuestMessage::KernelLog(log))),
        ];
        let f = summarize(&records);
        assert_eq!(f[0].kernel_events.len(), 1, "{f:?}");
        assert!((f[0].kernel_events[0].after_start_s - 2.2).abs() < 1e-6, "{:?}", f[0].kernel_events);
        assert!(f[1].kernel_events.is_empty(), "{:?}", f[1].kernel_events);
    }

    #[test]
    fn a_window_sent_late_still_shows_the_fault_its_gap_spans() {
        use clockstorm_protocol::{Synced, TickWindow, Window};
        let s = 1_000_000_000i64;
        let rec = |t: i64, body| RunRecord { host_realtime_ns: t, host_monotonic_ns: t as u64, body };
        let exchange = |t: i64| rec(t, RecordBody::Guest(GuestMessage::Exchange(ex(t, 0, 100_000))));
        let effect = FaultEffect {
            index: 0,
            kind: FaultKindName::Freeze,
            began_realtime_ns: 10 * s,
            began_monotonic_ns: 0,
            ended_realtime_ns: 16 * s,
            ended_monotonic_ns: 0,
            achieved_ns: 6 * s as u64,
            detail: None,
            error: None,
        };
        // Guest CLOCK_REALTIME = CLOCK_MONOTONIC + 100 s (from a timer window).
        let tick = TickWindow { mono_ns: 2 * s as u64, realtime_ns: 102 * s, ..TickWindow::default() };
        // The window whose 6 s gap ended at host 16.01 s arrived 9 s later.
        let window = Window { max_gap_ns: 6 * s as u64, max_gap_at_ns: (16 * s + 10_000_000 - 100 * s) as u64, ..Window::default() };
        let records = vec![
            rec(s / 2, RecordBody::Guest(GuestMessage::Synced(Synced { best: ex(s / 2, 0, 100_000), step_ns: 0 }))),
            rec(2 * s, RecordBody::Guest(GuestMessage::TickWindow(tick))),
            exchange(9 * s),
            exchange(17 * s),
            rec(16 * s, RecordBody::Harness(HarnessEvent::FaultEnded(effect))),
            rec(25 * s, RecordBody::Guest(GuestMessage::Window(window))),
        ];
        assert_eq!(summarize(&records)[0].max_gap_ns, Some(6 * s as u64));
    }

    #[test]
    fn rt_throttling_is_the_timer_threads_stall_beyond_the_samplers() {
        use clockstorm_protocol::TimerStall;
        let s = 1_000_000_000u64;
        // The samplers ran again at 10 s (guest time); the timer thread's stall
        // began before that and ended at 14.4 s: RT tasks were held 4.4 s.
        let stalls = [TimerStall { at_ns: 14 * s + 400_000_000, gap_ns: 9 * s }, TimerStall { at_ns: 30 * s, gap_ns: s }];
        assert_eq!(rt_throttled_ns(&[9 * s, 10 * s], &stalls), Some(4_400_000_000));
        // A stall that ended with the freeze (the timer ran when the samplers did) is none.
        assert_eq!(rt_throttled_ns(&[10 * s], &[TimerStall { at_ns: 10 * s + 2_000_000, gap_ns: 5 * s }]), None);
        // One that began after the samplers resumed is not this fault's.
        assert_eq!(rt_throttled_ns(&[10 * s], &[TimerStall { at_ns: 13 * s, gap_ns: s }]), None);
        assert_eq!(rt_throttled_ns(&[], &stalls), None, "no sampler gap: no freeze seen");
    }

    #[test]
    fn a_fault_is_not_charged_with_the_next_one() {
        let s = 1_000_000_000i64;
        let effect = |index, began: i64, ended: i64| FaultEffect {
            index,
            kind: FaultKindName::Freeze,
            began_realtime_ns: began,
            began_monotonic_ns: 0,
            ended_realtime_ns: ended,
            ended_monotonic_ns: 0,
            achieved_ns: 0,
            detail: None,
            error: None,
        };
        // Exchanges before the first fault and after the second only: the
        // first fault's step cannot be told from the second's.
        let exchanges = [ex(s, 0, 100_000), ex(2 * s, 0, 100_000), ex(9 * s, 7_000_000_000, 100_000)];
        let effects = [effect(0, 3 * s, 5 * s), effect(1, 6 * s, 8 * s)];
        let faults = attribute(&FaultInputs {
            planned: &[],
            effects: &effects,
            exchanges: &exchanges,
            windows: &[],
            kernel: &[],
            sampler_gaps: &[],
            timer_stalls: &[],
            clock_stops: &[],
            service_lines: &[],
            drift: None,
        });
        assert_eq!(faults[0].lost_ns, None, "{faults:?}");
        assert_eq!(faults[1].lost_ns, None, "nothing between the faults before the second either");
        // One exchange between them splits the step: 4 s to the first, 3 s to the second.
        let exchanges = [exchanges[0], exchanges[1], ex(5 * s + 500_000_000, 4_000_000_000, 100_000), exchanges[2]];
        let faults = attribute(&FaultInputs {
            planned: &[],
            effects: &effects,
            exchanges: &exchanges,
            windows: &[],
            kernel: &[],
            sampler_gaps: &[],
            timer_stalls: &[],
            clock_stops: &[],
            service_lines: &[],
            drift: None,
        });
        assert_eq!(faults.iter().map(|f| f.lost_ns).collect::<Vec<_>>(), vec![Some(4_000_000_000), Some(3_000_000_000)]);
    }

    #[test]
    fn only_the_nearest_exchanges_count() {
        let s = 1_000_000_000;
        // A very tight exchange long before the fault must not be used: the
        // guest may have drifted since.
        let mut exchanges = vec![ex(s, 0, 1)];
        for i in 0..BRACKET_EXCHANGES as i64 {
            exchanges.push(ex(2 * s + i * 100_000_000, 1_000, 100_000));
        }
        exchanges.push(ex(10 * s, 1_000, 100_000));
        assert_eq!(time_lost(&exchanges, 5 * s, 6 * s).unwrap().change_ns, 0);
    }

    /// A stop of CLOCK_MONOTONIC first and last seen at these host times
    /// (and seen moving again at `resumed_ns`), with the evidence of
    /// acpi_pm.r0's 9.49 s stop across a 9 s freeze.
    fn stop_seen(first_seen_ns: i64, last_seen_ns: i64, resumed_ns: Option<i64>) -> crate::liveness::ClockStop {
        crate::liveness::ClockStop {
            clock: "monotonic".into(),
            value_ns: 11_779_572_000,
            lowest_ns: 11_779_049_000,
            steps_back: 1,
            first_seen_ns,
            last_seen_ns,
            resumed_ns,
            jump_ns: Some(120_000_000),
            beacons: 37,
            tsc_ticks: 24_036_748_294,
            timer_wakeups: 2,
            sampler_reads: 235_520,
            sampler_tsc_ticks: 24_029_764_616,
        }
    }

    #[test]
    fn a_clock_stop_across_a_freeze_is_that_freezes_with_the_part_it_held() {
        let s = 1_000_000_000;
        // A 5 s freeze from 7 s, a 9 s one from 15 s; the clock's value was
        // last read 0.2 s before the second and it moved again 0.49 s after it.
        let stop = stop_seen(15 * s - 200_000_000, 24 * s + 400_000_000, Some(24 * s + 490_000_000));
        let across_two_freezes = |c: &crate::liveness::ClockStop| {
            attribute(&FaultInputs {
                planned: &[(0, 7_000, 5_000), (1, 15_000, 9_000)],
                effects: &[freeze_effect(0, 7 * s, 12 * s), freeze_effect(1, 15 * s, 24 * s)],
                exchanges: &[],
                windows: &[],
                kernel: &[],
                sampler_gaps: &[],
                timer_stalls: &[],
                clock_stops: std::slice::from_ref(c),
                service_lines: &[],
                drift: None,
            })
        };
        let faults = across_two_freezes(&stop);
        assert!(faults[0].clock_stops.is_empty(), "not the 5 s freeze's: {:?}", faults[0].clock_stops);
        let c = &faults[1].clock_stops[0];
        assert_eq!((c.after_start_s, c.during_fault_ns), (-0.2, 9 * s));
        let said = &faults[1].findings()[0].1;
        assert!(said.starts_with("clock stopped: CLOCK_MONOTONIC did not advance for 9.69 s of host time (9.00 s of it while the fault was in effect, 0.69 s outside it) and advanced again"), "{said}");
        // 6.12's stop for good: it began after the first freeze (first seen
        // 0.3 s after its end) and lasted through the second: the first's.
        let for_good = crate::liveness::ClockStop { first_seen_ns: 12 * s + 300_000_000, last_seen_ns: 26 * s, resumed_ns: None, ..stop.clone() };
        let faults = across_two_freezes(&for_good);
        assert_eq!((faults[0].clock_stops.len(), faults[1].clock_stops.len()), (1, 0));
    }

    #[test]
    fn a_clock_that_stood_still_after_a_freeze_is_charged_once_it_runs_again() {
        let s = 1_000_000_000;
        const WRAP: i64 = 4_686_902_000;
        // A 1.8 s freeze from 3 s; an exchange due as it began ran right
        // after it, while the clock stood still waiting for the next wrap
        // (1.8 s behind); from 8 s the clock runs again, one wrap behind.
        let exchanges: Vec<Exchange> = (0..10)
            .map(|i| ex(i * 300_000_000, 0, 500))
            .chain([ex(4_900_000_000, 1_900_000_000, 400)])
            .chain((0..5).map(|i| ex(8 * s + i * 300_000_000, WRAP, 500)))
            .collect();
        let stop = stop_seen(3 * s - 100_000_000, 7 * s + 600_000_000, Some(7 * s + 700_000_000));
        let lost = |stops: &[crate::liveness::ClockStop]| {
            attribute(&FaultInputs {
                planned: &[(0, 3_000, 1_800)],
                effects: &[freeze_effect(0, 3 * s, 4_800_000_000)],
                exchanges: &exchanges,
                windows: &[],
                kernel: &[],
                sampler_gaps: &[],
                timer_stalls: &[],
                clock_stops: stops,
                service_lines: &[],
                drift: None,
            })[0]
                .lost_ns
        };
        assert_eq!(lost(std::slice::from_ref(&stop)), Some(WRAP), "measured after the clock ran again");
        assert_eq!(lost(&[]), Some(1_900_000_000), "without a stop, the first exchanges after the fault");
        // A stop that never ended changes nothing: there is no after.
        let for_good = crate::liveness::ClockStop { resumed_ns: None, ..stop };
        assert_eq!(lost(std::slice::from_ref(&for_good)), Some(1_900_000_000));
    }

    #[test]
    fn a_clock_that_runs_fast_gains_across_a_freeze_what_its_rate_says_and_no_more() {
        let s = 1_000_000_000;
        // The guest clock runs 8 ppm fast (offset host - guest falls 8 µs a
        // second) and the freeze from 3 s to 12 s costs it nothing: the
        // offset falls 8 ppm of the 10.3 s between the bracketing exchanges
        // (2.7 s and 13 s).
        let at = |t: i64| ex(t, -(t * 8 / 1_000_000), 500);
        let exchanges: Vec<Exchange> = (0..=10).map(|i| at(i * 300_000_000)).chain((0..=10).map(|i| at(13 * s + i * 300_000_000))).collect();
        let step = time_lost(&exchanges, 3 * s, 12 * s).unwrap();
        assert_eq!((step.change_ns, step.span_ns), (-82_400, 10_300_000_000));
        let drift = crate::drift::drift_ppm(&exchanges, &[freeze_effect(0, 3 * s, 12 * s)]).unwrap();
        assert!((drift.ppm + 8.0).abs() < 1e-6, "{drift:?}");
        let (lost, unc, share) = net_of_rate(step, Some(drift));
        assert_eq!(lost, 0, "net of the rate the freeze cost nothing");
        assert_eq!(share.map(|r| (r.rate_ns, r.raw_lost_ns)), Some((-82_400, -82_400)));
        assert!(unc >= step.uncertainty_ns, "the rate's own uncertainty is added");
        // Without a rate, or with one its interval does not set apart from
        // zero: the raw change, as it was.
        assert_eq!(net_of_rate(step, None), (-82_400, 1_000, None));
        let unsure = crate::drift::Drift { ppm: -8.0, low: -20.0, high: 4.0, exchanges: 5, segments: 2 };
        assert_eq!(net_of_rate(step, Some(unsure)), (-82_400, 1_000, None));
        // Said where it matters against the bound, as the guest's finding.
        let mut f = attribute(&FaultInputs {
            planned: &[(0, 3_000, 9_000)],
            effects: &[freeze_effect(0, 3 * s, 12 * s)],
            exchanges: &exchanges,
            windows: &[],
            kernel: &[],
            sampler_gaps: &[],
            timer_stalls: &[],
            clock_stops: &[],
            service_lines: &[],
            drift: Some(drift),
        })
        .remove(0);
        assert_eq!(f.lost_ns, Some(0));
        let said: Vec<String> = f.findings().into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            said,
            ["clock rate: it runs 8.0 ppm fast against the host outside the faults; over the 10.3 s across this fault that alone puts it 82.4 µs ahead, of the 82.4 µs ahead it came out; the time lost is net of it"]
        );
        // A rate that moves the offset by less than half the bound goes unsaid.
        f.lost_uncertainty_ns = Some(200_000);
        assert!(f.findings().is_empty());
    }
}
