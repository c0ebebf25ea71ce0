//! Backward steps explained: for every clock that stepped back, at which
//! fault, how far, and what the clock model expects of it
//! (docs/clock-model.md, "Backward steps"). Pure.

use serde::{Deserialize, Serialize};

use clockstorm_protocol::{Accel, ClockRule, Clocksource, FaultKindName};

use crate::faults::FaultSummary;
use crate::format::ns;
use crate::predict::{predict, wrap_ns, Prediction, RunRules};
use crate::RunSummary;

/// One tick of Debian's HZ=250 kernels, for a run that did not report HZ.
pub const DEFAULT_TICK_NS: u64 = 4_000_000;

/// A clock's steps back in one place, and what the model makes of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepExplanation {
    pub run_id: String,
    /// The fault they followed; None: near no fault.
    pub fault: Option<usize>,
    /// `CLOCK_MONOTONIC`, `CLOCK_MONOTONIC_RAW`, `CLOCK_REALTIME`, `TSC`,
    /// or `guest clocks` for steps near no fault (their windows are not kept).
    pub clock: String,
    pub steps: u64,
    /// The largest step back (0 where it is not recorded: the TSC).
    pub worst_ns: u64,
    /// Host seconds after the fault began.
    pub after_start_s: Option<f64>,
    /// What the model expects there, in words.
    pub expected: String,
    /// The steps are of the kind and size the model expects.
    pub as_expected: bool,
    pub sentence: String,
}

/// Every step back of every measured run, explained.
pub fn explain_all(runs: &[RunSummary], rules: &RunRules) -> Vec<StepExplanation> {
    runs.iter().filter(|r| r.measured()).flat_map(|r| explain(r, &rules.rule(&r.run_id), rules.accel())).collect()
}

/// The steps back of one run.
pub fn explain(s: &RunSummary, rule: &ClockRule, accel: Accel) -> Vec<StepExplanation> {
    let tick = s.hz.filter(|h| *h > 0).map_or(DEFAULT_TICK_NS, |h| 1_000_000_000 / h as u64);
    let mut out = Vec::new();
    for f in &s.faults {
        let cs = Clocksource::from_kernel_name(s.clocksource_at(f.planned_start_ms as f64 / 1e3));
        for b in &f.backsteps {
            let (expected, as_expected) = if b.clock == "TSC" {
                ("no step: the TSC a vCPU reads never runs backwards".to_owned(), false)
            } else {
                expectation(f, cs, accel, rule, tick, b.worst_ns)
            };
            let sentence = format!(
                "{}: {} stepped back {} by up to {} {:.1} s after fault {} ({} {}); the model expects {expected}: {}",
                s.run_id,
                b.clock,
                times(b.steps),
                if b.worst_ns > 0 { ns(b.worst_ns as f64) } else { "an unrecorded amount".into() },
                b.after_start_s,
                f.index,
                ns(f.planned_duration_ms as f64 * 1e6),
                f.kind,
                if as_expected { "as expected" } else { "NOT as expected" }
            );
            out.push(StepExplanation {
                run_id: s.run_id.clone(),
                fault: Some(f.index),
                clock: b.clock.clone(),
                steps: b.steps,
                worst_ns: b.worst_ns,
                after_start_s: Some(b.after_start_s),
                expected,
                as_expected,
                sentence,
            });
        }
    }
    // Steps the windows near faults do not account for.
    let near: u64 = s.faults.iter().map(FaultSummary::clock_backward_steps).sum();
    let elsewhere = s.backwards_steps.saturating_sub(near);
    if elsewhere > 0 {
        let expected = "no step where no fault was".to_owned();
        out.push(StepExplanation {
            run_id: s.run_id.clone(),
            fault: None,
            clock: "guest clocks".into(),
            steps: elsewhere,
            worst_ns: s.worst_backwards_ns,
            after_start_s: None,
            sentence: format!(
                "{}: the guest's clocks stepped back {} near no fault (the run's largest step: {}); the model expects {expected}: NOT as expected",
                s.run_id,
                times(elsewhere),
                ns(s.worst_backwards_ns as f64)
            ),
            expected,
            as_expected: false,
        });
    }
    out
}

fn times(n: u64) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// What the model expects of a guest clock's steps back after fault `f`
/// on clocksource `cs`, and whether a largest step of `worst_ns` fits it.
fn expectation(f: &FaultSummary, cs: Option<Clocksource>, accel: Accel, rule: &ClockRule, tick: u64, worst_ns: u64) -> (String, bool) {
    let two_ticks = 2 * tick;
    let narrow = cs.and_then(wrap_ns);
    let freeze = matches!(f.kind, FaultKindName::Freeze | FaultKindName::VcpuFreeze);
    let (Some(cs), Some(w), true) = (cs, narrow, freeze) else {
        let on = cs.map_or("this clocksource".to_owned(), |c| c.to_string());
        return (format!("no step after a {} on {on}", f.kind), false);
    };
    let d = f.achieved_ns as f64;
    let rest = d / w - (d / w).floor();
    match predict(f.kind, d, cs, accel, rule) {
        Some(Prediction::Lost(_)) if rest >= rule.refuses_above => (
            format!(
                "a step of up to two ticks ({}): the kernel refused the counter's masked delta ({rest:.3} of a wrap, above {:.3}) as negative, so its clock fell back to where its last tick left it",
                ns(two_ticks as f64),
                rule.refuses_above
            ),
            worst_ns <= two_ticks,
        ),
        Some(Prediction::Lost(_)) => (
            format!("no step: the kernel takes the counter's masked delta ({rest:.3} of a wrap, below {:.3})", rule.refuses_above),
            false,
        ),
        Some(Prediction::ClockStops) => (
            format!(
                "steps of up to a wrap ({}): the kernel refuses the delta for good and its clock runs over the same stretch again at every wrap",
                ns(w)
            ),
            worst_ns as f64 <= w + two_ticks as f64,
        ),
        Some(Prediction::NearThreshold) => (
            format!("no step, or one of up to two ticks ({}): the freeze ended too near the kernel's threshold to say which", ns(two_ticks as f64)),
            worst_ns <= two_ticks,
        ),
        None => (format!("nothing it can say after a {}", f.kind), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Backstep;
    use clockstorm_protocol::AfterRefusal;

    fn run_with_step(freeze_ms: u64, worst_ns: u64, clock: &str) -> RunSummary {
        let mut s = crate::summarize(&crate::summary::tests::completed_run());
        s.run_id = "kernel-ci-acpi_pm.r0".into();
        s.clocksource = "acpi_pm".into();
        s.clocksource_in_guest = Some("acpi_pm".into());
        s.hz = Some(250);
        let mut f = crate::fixtures::report().runs[0].faults[0].clone();
        f.planned_duration_ms = freeze_ms;
        f.achieved_ns = freeze_ms * 1_000_000;
        f.backsteps = vec![Backstep { clock: clock.into(), steps: 1, worst_ns, after_start_s: 3.1 }];
        s.faults = vec![f];
        s.backwards_steps = 1;
        s.worst_backwards_ns = worst_ns;
        s
    }

    fn rule_6_12() -> ClockRule {
        ClockRule { refuses_above: 0.875, plus_minus: 0.005, after: AfterRefusal::StopsForGood, source: "6.12".into(), same_build: true }
    }

    #[test]
    fn a_step_of_a_tick_after_a_refused_delta_is_what_the_half_wrap_rule_expects() {
        // 3 s is 0.64 of acpi_pm's wrap: above half, refused by 5.10 and 6.1.
        let e = explain(&run_with_step(3_000, 6_560_000, "CLOCK_MONOTONIC"), &crate::predict::generic_rule(), Accel::Tcg);
        assert_eq!(e.len(), 1);
        assert!(e[0].as_expected, "{e:#?}");
        assert_eq!((e[0].fault, e[0].clock.as_str(), e[0].worst_ns), (Some(0), "CLOCK_MONOTONIC", 6_560_000));
        assert!(e[0].sentence.contains("stepped back once by up to 6.56 ms 3.1 s after fault 0 (3.00 s freeze)"), "{}", e[0].sentence);
        assert!(e[0].expected.contains("refused the counter's masked delta (0.640 of a wrap, above 0.500)"), "{}", e[0].expected);
        // Larger than two ticks: named as not expected.
        let e = explain(&run_with_step(3_000, 9_000_000, "CLOCK_MONOTONIC"), &crate::predict::generic_rule(), Accel::Tcg);
        assert!(!e[0].as_expected && e[0].sentence.ends_with("NOT as expected"));
    }

    #[test]
    fn the_same_step_under_a_rule_that_takes_the_delta_is_not_expected() {
        let e = explain(&run_with_step(3_000, 2_000_000, "CLOCK_MONOTONIC"), &rule_6_12(), Accel::Tcg);
        assert!(!e[0].as_expected, "{e:#?}");
        assert!(e[0].expected.starts_with("no step: the kernel takes"), "{}", e[0].expected);
        // A TSC step is never expected.
        let e = explain(&run_with_step(3_000, 0, "TSC"), &crate::predict::generic_rule(), Accel::Tcg);
        assert!(!e[0].as_expected && e[0].sentence.contains("an unrecorded amount"), "{e:#?}");
    }

    #[test]
    fn steps_near_no_fault_are_named_too() {
        let mut s = run_with_step(3_000, 2_000_000, "CLOCK_MONOTONIC");
        s.backwards_steps = 3;
        let e = explain(&s, &crate::predict::generic_rule(), Accel::Tcg);
        assert_eq!(e.len(), 2);
        assert_eq!((e[1].fault, e[1].steps, e[1].as_expected), (None, 2, false));
    }
}
