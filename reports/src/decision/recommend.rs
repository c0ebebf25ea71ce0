//! One recommendation in plain words, or exactly what keeps the evidence
//! from making one: too few runs, a tie at the top, a setting not measured
//! under a stall length (docs/decision.md, "The recommendation").

use super::rules::{figure, figures_of, has_trouble, heading, runs, why_together, worst, Context, Rule};
use super::{NotMeasured, RankStep, Recommendation, Setting, Stall, MIN_RUNS};
use crate::decision::figures::magnitude;

pub fn recommend(settings: &[Setting], stalls: &[Stall], tiers: &[Vec<usize>], steps: &[RankStep], not_measured: &[NotMeasured]) -> Recommendation {
    let unmeasured = not_measured_note(not_measured);
    let none = |why: String| Recommendation { setting: None, sentence: format!("no recommendation: {why}{unmeasured}") };
    match settings {
        [] => return none("no setting was measured".into()),
        [only] => return none(format!("only {} was measured ({}); there is nothing to compare it with", only.label, runs(only.runs))),
        _ => {}
    }
    let top = &tiers[0];
    let mut blockers = Vec::new();
    let few: Vec<String> = settings.iter().filter(|s| s.runs < MIN_RUNS).map(|s| format!("{} has {} measured", s.label, runs(s.runs))).collect();
    if !few.is_empty() {
        blockers.push(format!(
            "too few runs: {}; a recommendation needs at least {MIN_RUNS} of every setting (--repetitions {MIN_RUNS} or more)",
            few.join(", ")
        ));
    }
    if top.len() > 1 {
        blockers.push(tie(top, settings, stalls, steps));
    }
    blockers.extend(missing_evidence(top, settings, stalls, steps));
    if !blockers.is_empty() {
        return none(blockers.join("; "));
    }
    let best = top[0];
    let reasons = reasons(best, settings, stalls, steps);
    Recommendation { setting: Some(settings[best].label.clone()), sentence: format!("use {}: {}{unmeasured}", settings[best].label, reasons.join("; ")) }
}

fn not_measured_note(not_measured: &[NotMeasured]) -> String {
    let parts: Vec<String> = not_measured.iter().map(|n| format!("{} ({})", n.label, n.reason)).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(". Not measured, so not compared: {}", parts.join("; "))
    }
}

fn index_of(settings: &[Setting], label: &str) -> usize {
    settings.iter().position(|s| s.label == label).expect("steps name settings")
}

fn ids(labels: &[String], settings: &[Setting]) -> Vec<usize> {
    labels.iter().map(|l| index_of(settings, l)).collect()
}

/// "a and b cannot be separated: worst time lost a < 1.60 ms (2 runs), b …;
/// read cost …": the figures of every rule that left them together and on
/// which they are not simply all fine.
fn tie(top: &[usize], settings: &[Setting], stalls: &[Stall], steps: &[RankStep]) -> String {
    let names: Vec<&str> = top.iter().map(|&i| settings[i].label.as_str()).collect();
    let mut why = Vec::new();
    for step in steps.iter().filter(|s| top.iter().all(|&i| s.among.contains(&settings[i].label))) {
        let ctx = Context::of(&ids(&step.among, settings), settings, stalls);
        let troubled = top.iter().any(|&i| has_trouble(step.rule, &settings[i]));
        if step.rule == Rule::TimeLost && ctx.common.is_empty() {
            why.push(format!("{}: not compared ({})", heading(step.rule, &ctx), why_together(step.rule, top, settings, &ctx)));
        } else if matches!(step.rule, Rule::TimeLost | Rule::ReadCost) || troubled {
            why.push(format!(
                "{}: {} ({})",
                heading(step.rule, &ctx),
                figures_of(step.rule, top, settings, &ctx),
                why_together(step.rule, top, settings, &ctx)
            ));
        }
    }
    format!(
        "{} cannot be separated: {}; on this evidence either will do, or more repetitions may narrow the intervals",
        and_list(&names),
        if why.is_empty() { "no rule tells them apart".to_owned() } else { why.join("; ") }
    )
}

/// The stall lengths a setting has no figure for.
fn missing(s: &Setting, stalls: &[Stall]) -> Vec<String> {
    stalls.iter().zip(&s.time_lost).filter(|(_, l)| l.is_none()).map(|(st, _)| st.label()).collect()
}

/// The step at which two settings were told apart, if any.
fn separating_step<'a>(steps: &'a [RankStep], a: &str, b: &str) -> Option<&'a RankStep> {
    steps.iter().find(|s| {
        let tier_of = |x: &str| s.tiers.iter().position(|t| t.iter().any(|l| l == x));
        matches!((tier_of(a), tier_of(b)), (Some(ta), Some(tb)) if ta != tb)
    })
}

/// A setting not measured under a stall length could have lost anything
/// there. That cannot matter for one ranked below the top because its guest
/// broke, or because what it lost where it was measured already exceeds the
/// top's worst at every length (more stalls can only raise a worst); any
/// other gap keeps the ranking from being a decision.
fn missing_evidence(top: &[usize], settings: &[Setting], stalls: &[Stall], steps: &[RankStep]) -> Vec<String> {
    let all: Vec<usize> = (0..stalls.len()).collect();
    let mut out = Vec::new();
    for (i, s) in settings.iter().enumerate() {
        let gaps = missing(s, stalls);
        if gaps.is_empty() {
            continue;
        }
        let not_under = format!("{} was not measured under the {} (no time-lost figure in its runs)", s.label, gaps.join(", "));
        if top.contains(&i) {
            out.push(not_under);
            continue;
        }
        let best = &settings[top[0]];
        let below_for_good = separating_step(steps, &best.label, &s.label).is_some_and(|step| match step.rule {
            Rule::GuestBroke => true,
            Rule::TimeLost => {
                let own: Vec<usize> = (0..stalls.len()).filter(|&k| s.time_lost[k].is_some()).collect();
                match (worst(s, &own), worst(best, &all)) {
                    (Some((_, mine)), Some((_, theirs))) => {
                        magnitude(mine) - mine.plus_minus_ns > magnitude(theirs) + theirs.plus_minus_ns
                            && magnitude(mine) - magnitude(theirs) > super::TIME_LOST_FLOOR_NS
                    }
                    _ => false,
                }
            }
            _ => false,
        });
        if !below_for_good {
            out.push(format!("{not_under}, so it cannot be ranked below {}", best.label));
        }
    }
    out
}

/// Each rule that put other settings below the best: its figure against theirs.
fn reasons(best: usize, settings: &[Setting], stalls: &[Stall], steps: &[RankStep]) -> Vec<String> {
    let label = &settings[best].label;
    steps
        .iter()
        .filter(|s| s.separated() && s.tiers[0].contains(label))
        .map(|step| {
            let ctx = Context::of(&ids(&step.among, settings), settings, stalls);
            let beaten: Vec<usize> = step.tiers[1..].iter().flat_map(|t| ids(t, settings)).collect();
            format!(
                "{}: {label} {} where {}",
                heading(step.rule, &ctx),
                figure(step.rule, &settings[best], &ctx),
                figures_of(step.rule, &beaten, settings, &ctx)
            )
        })
        .collect()
}

fn and_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
