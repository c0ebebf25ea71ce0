//! Gates: what must hold for a run to pass. Evaluated per run; over
//! repetitions a gate passes when every repetition passes.

use serde::{Deserialize, Serialize};

use crate::RunSummary;

/// The limits to check (absent ones are not checked). Plain numbers: the
/// scenario file's `[gates]` table is converted into this.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateLimits {
    pub max_time_lost_ns: Option<u64>,
    pub max_gap_ns: Option<u64>,
    pub no_clocksource_switch: bool,
    pub final_clocksource: Option<String>,
    pub no_soft_lockup: bool,
    pub max_backwards_steps: Option<u64>,
    pub max_tick_backlog: Option<u64>,
    /// No guest clock may stop without moving again (on by default: a
    /// scenario turns it off with `allow_stopped_clock`).
    pub no_stopped_clock: bool,
    /// Longest a clock may stand still even when it moves again.
    pub max_clock_stopped_ns: Option<u64>,
}

impl GateLimits {
    /// The limits every run is held to unless the scenario says otherwise.
    pub fn defaults() -> GateLimits {
        GateLimits { no_stopped_clock: true, ..GateLimits::default() }
    }
}

/// One gate checked on one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateResult {
    pub run_id: String,
    pub gate: String,
    pub passed: bool,
    /// What was measured and what was allowed, in words.
    pub message: String,
}

/// Checks every gate on every run that measured; runs that did not (failed,
/// skipped, not honored) are not gated here: they fail the run on their own.
/// `rules` say what the model expects of each run's kernel, which a gate
/// about backward steps names with each step.
pub fn evaluate(summaries: &[RunSummary], limits: &GateLimits, rules: &crate::predict::RunRules) -> Vec<GateResult> {
    let mut out = Vec::new();
    for s in summaries.iter().filter(|s| s.measured()) {
        let mut check = |gate: &str, passed: bool, message: String| out.push(GateResult { run_id: s.run_id.clone(), gate: gate.into(), passed, message });
        if let Some(max) = limits.max_time_lost_ns {
            let worst = s.faults.iter().filter_map(|f| f.lost_ns).map(|l| l.unsigned_abs()).max();
            match worst {
                Some(w) => check("max_time_lost", w <= max, format!("worst time lost {} ns, allowed {max} ns", w)),
                None if s.faults.is_empty() => {}
                None => check("max_time_lost", false, "no time-lost figure for the faults (no exchanges around them)".into()),
            }
        }
        if let Some(max) = limits.max_gap_ns {
            let gap = s.max_gap_ns.unwrap_or(0);
            check("max_gap", gap <= max, format!("max gap {gap} ns, allowed {max} ns"));
        }
        if limits.no_clocksource_switch {
            let n = s.clocksource_changes.len();
            check("no_clocksource_switch", n == 0, format!("{n} clocksource change(s): {}", s.clocksource_changes.join(", ")));
        }
        if let Some(want) = &limits.final_clocksource {
            let got = s.final_clocksource.as_deref().unwrap_or("unknown");
            check("final_clocksource", got == want, format!("ended on {got}, required {want}"));
        }
        if limits.no_soft_lockup {
            check("no_soft_lockup", s.soft_lockups == 0, format!("{} soft lockup / RCU stall report(s)", s.soft_lockups));
        }
        if let Some(max) = limits.max_backwards_steps {
            let passed = s.backwards_steps <= max;
            let mut message = format!("{} backwards steps, allowed {max}", s.backwards_steps);
            if !passed {
                // Which clock stepped back, where, how far, and what the model expects.
                for e in crate::backsteps::explain(s, &rules.rule(&s.run_id), rules.accel()) {
                    message.push_str(&format!("; {}", e.sentence.strip_prefix(&format!("{}: ", s.run_id)).unwrap_or(&e.sentence)));
                }
            }
            check("max_backwards_steps", passed, message);
        }
        if s.status == "silent" {
            // Always checked: a guest that stops answering is never a pass.
            check("guest_responsive", false, s.detail.clone().unwrap_or_else(|| "the guest went silent".into()));
        }
        if limits.no_stopped_clock {
            let stuck: Vec<&crate::liveness::ClockStop> = s.clock_stops.iter().filter(|c| !c.recovered()).collect();
            let message = match stuck.first() {
                None => format!("no clock stopped for good ({} stop(s) that recovered)", s.clock_stops.len()),
                Some(c) => format!("the guest's clock stopped and did not move again: {}", c.evidence()),
            };
            check("no_stopped_clock", stuck.is_empty(), message);
        }
        if let Some(max) = limits.max_clock_stopped_ns {
            let worst = s.clock_stops.iter().map(|c| c.stopped_ns().max(0) as u64).max().unwrap_or(0);
            check("max_clock_stopped", worst <= max, format!("a clock stood still for {worst} ns at most, allowed {max} ns"));
        }
        if let Some(max) = limits.max_tick_backlog {
            let backlog = s.ticks.as_ref().and_then(|t| t.timer_expirations).map(|b| b.max).unwrap_or(0.0);
            check("max_tick_backlog", backlog <= max as f64, format!("tick backlog {backlog:.1}, allowed {max}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::tests::completed_run;

    fn rules() -> crate::predict::RunRules {
        crate::predict::RunRules::from_manifest(&crate::fixtures::manifest(vec![]))
    }

    #[test]
    fn gates_pass_and_fail_with_what_was_measured() {
        let s = crate::summarize(&completed_run());
        let limits = GateLimits { max_gap_ns: Some(5_000_000), max_backwards_steps: Some(0), ..GateLimits::default() };
        let r = evaluate(std::slice::from_ref(&s), &limits, &rules());
        assert_eq!(r.len(), 2);
        assert!(!r[0].passed && r[0].message == "max gap 7000000 ns, allowed 5000000 ns", "{r:?}");
        assert!(!r[1].passed && r[1].message.contains("1 backwards steps"), "{r:?}");
        let loose = GateLimits { max_gap_ns: Some(10_000_000), final_clocksource: Some("hpet".into()), ..GateLimits::default() };
        assert!(evaluate(&[s], &loose, &rules()).iter().all(|g| g.passed));
    }
}
