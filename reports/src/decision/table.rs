//! The decision as cells and lines, the same for every renderer (terminal,
//! Markdown, HTML), which only lay them out.

use super::rules::{factor_text, loss_text, Rule};
use super::{Decision, RankStep, Setting};
use crate::format::ns;

/// Where the rules are written down.
pub const RULES_DOC: &str = "docs/decision.md";

pub fn headers(d: &Decision) -> Vec<String> {
    let mut h: Vec<String> = ["rank", "setting", "runs"].map(String::from).to_vec();
    h.extend(d.stalls.iter().map(|s| format!("lost per {}", s.label())));
    h.extend(["stopped clocks", "back steps", "watchdog marks", "clocksource changes", "lockups", "RT throttled", "read cost"].map(String::from));
    h
}

/// One row per setting measured, in rank order.
pub fn rows(d: &Decision) -> Vec<Vec<String>> {
    d.settings.iter().map(|s| row(d, s)).collect()
}

fn row(d: &Decision, s: &Setting) -> Vec<String> {
    let shared = d.settings.iter().filter(|o| o.rank == s.rank).count() > 1;
    let runs = if s.runs == s.runs_planned { s.runs.to_string() } else { format!("{} of {}", s.runs, s.runs_planned) };
    // A figure from fewer runs than the setting measured says so.
    let fewer = |n: usize| if n == s.runs { String::new() } else { format!(" (n={n})") };
    let mut cells = vec![format!("{}{}", s.rank, if shared { "=" } else { "" }), s.label.clone(), runs];
    cells.extend(s.time_lost.iter().map(|l| match l {
        Some(l) => format!("{}{}", loss_text(l), fewer(l.runs)),
        None => "not measured".into(),
    }));
    cells.push(stopped(s));
    cells.extend([s.backward_steps, s.watchdog_marks, s.clocksource_changes, s.lockups, s.rt_throttled].map(|n| n.to_string()));
    cells.push(match &s.read_cost {
        Some(c) => format!("{}, {}{}", ns(c.mean_ns), factor_text(c.factor), fewer(c.runs)),
        None => "–".into(),
    });
    cells
}

/// "1 for good, 1 silent" (in runs); "0" when no clock stopped.
fn stopped(s: &Setting) -> String {
    let parts: Vec<String> = [(s.clock_stopped_for_good_runs, "for good"), (s.silent_runs, "silent"), (s.clock_stood_still_runs, "stood still")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(", ")
    }
}

/// What the figures are and how they were ranked, in one line.
pub fn legend() -> String {
    let order: Vec<&str> = Rule::ORDER.iter().map(|r| r.title()).collect();
    format!(
        "Each figure is over the setting's measured runs (the runs column; n= where fewer); stopped clocks counts runs. \
         Ranked by, in order: {} ({RULES_DOC}).",
        order.join(" › ")
    )
}

/// Lines under the table: settings not measured, and runs that did not
/// measure in settings that did.
pub fn notes(d: &Decision) -> Vec<String> {
    let mut out: Vec<String> = d.not_measured.iter().map(|n| format!("{}: not measured: {}", n.label, n.reason)).collect();
    for s in &d.settings {
        out.extend(s.unmeasured_runs.iter().map(|r| format!("{}: not measured: {r}", s.label)));
    }
    out
}

/// The steps worth reading: every one that separated settings, and the
/// measured comparisons (time lost, read cost) that could not.
pub fn shown_steps(d: &Decision) -> Vec<&RankStep> {
    d.steps.iter().filter(|s| s.separated() || matches!(s.rule, Rule::TimeLost | Rule::ReadCost)).collect()
}

/// The recommendation as a lead and the rest: ("Recommendation", "use
/// tsc: …") or ("No recommendation", "tsc and hpet cannot be separated: …").
pub fn recommendation(d: &Decision) -> (&'static str, &str) {
    let sentence = d.recommendation.sentence.as_str();
    match sentence.strip_prefix("no recommendation: ") {
        Some(rest) if d.recommendation.setting.is_none() => ("No recommendation", rest),
        _ => ("Recommendation", sentence),
    }
}
