//! The ranking rules, applied lexicographically: each rule splits the
//! settings the earlier rules left together into tiers, best first, or
//! says why it cannot (docs/decision.md). Figures only: no rule looks at a
//! clocksource's name.

use serde::{Deserialize, Serialize};

use super::figures::magnitude;
use super::{RankStep, Setting, Stall, StallLoss, READ_COST_FACTOR, TIME_LOST_FLOOR_NS};
use crate::format::ns;

/// The rules, in the order they rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A clock stopped for good, the guest went silent, or its kernel
    /// reported a lockup: it stopped keeping time or working.
    GuestBroke,
    /// The worst time lost over the stall lengths all were measured under.
    TimeLost,
    /// Any step back of a guest clock.
    BackwardSteps,
    /// A clock that stood still for a while after a stall.
    ClockStoodStill,
    /// The kernel marked a clocksource unstable or changed it.
    KernelDistrust,
    /// The kernel throttled RT tasks after a stall.
    RtThrottling,
    /// The cost of reading the clock.
    ReadCost,
}

impl Rule {
    pub const ORDER: [Rule; 7] =
        [Rule::GuestBroke, Rule::TimeLost, Rule::BackwardSteps, Rule::ClockStoodStill, Rule::KernelDistrust, Rule::RtThrottling, Rule::ReadCost];

    pub fn title(self) -> &'static str {
        match self {
            Rule::GuestBroke => "guest stopped keeping time",
            Rule::TimeLost => "worst time lost",
            Rule::BackwardSteps => "backward steps",
            Rule::ClockStoodStill => "clock stood still",
            Rule::KernelDistrust => "watchdog marks and clocksource changes",
            Rule::RtThrottling => "RT throttling",
            Rule::ReadCost => "read cost",
        }
    }
}

/// The settings in tiers (indices into `settings`), best first, and every
/// step that made them.
pub fn rank(settings: &[Setting], stalls: &[Stall]) -> (Vec<Vec<usize>>, Vec<RankStep>) {
    let mut steps = Vec::new();
    if settings.is_empty() {
        return (Vec::new(), steps);
    }
    let tiers = rank_from(0, (0..settings.len()).collect(), settings, stalls, &mut steps);
    (tiers, steps)
}

fn rank_from(rule: usize, members: Vec<usize>, settings: &[Setting], stalls: &[Stall], steps: &mut Vec<RankStep>) -> Vec<Vec<usize>> {
    if members.len() < 2 || rule == Rule::ORDER.len() {
        return vec![members];
    }
    let rule_now = Rule::ORDER[rule];
    let ctx = Context::of(&members, settings, stalls);
    let tiers = split(rule_now, &members, settings, &ctx);
    let labels = |ids: &[usize]| ids.iter().map(|&i| settings[i].label.clone()).collect::<Vec<_>>();
    steps.push(RankStep {
        rule: rule_now,
        among: labels(&members),
        tiers: tiers.iter().map(|t| labels(t)).collect(),
        sentence: sentence(rule_now, &tiers, settings, &ctx),
    });
    tiers.into_iter().flat_map(|t| rank_from(rule + 1, t, settings, stalls, steps)).collect()
}

/// What a rule compares a group of settings on: the stall lengths every
/// one of them was measured under.
pub struct Context<'a> {
    pub stalls: &'a [Stall],
    pub common: Vec<usize>,
}

impl<'a> Context<'a> {
    pub fn of(members: &[usize], settings: &[Setting], stalls: &'a [Stall]) -> Context<'a> {
        let common = (0..stalls.len())
            .filter(|&k| members.iter().all(|&i| settings[i].time_lost.get(k).is_some_and(|l| l.is_some())))
            .collect();
        Context { stalls, common }
    }
}

/// The setting's worst time lost over the stall lengths `among` (indices
/// into the stalls), and under which.
pub fn worst<'a>(s: &'a Setting, among: &[usize]) -> Option<(usize, &'a StallLoss)> {
    among
        .iter()
        .filter_map(|&k| Some((k, s.time_lost.get(k)?.as_ref()?)))
        .max_by(|a, b| magnitude(a.1).total_cmp(&magnitude(b.1)))
}

/// Whether the setting shows what a yes/no rule looks for.
pub fn has_trouble(rule: Rule, s: &Setting) -> bool {
    match rule {
        Rule::GuestBroke => s.clock_stopped_for_good_runs + s.silent_runs > 0 || s.lockups > 0,
        Rule::BackwardSteps => s.backward_steps > 0,
        Rule::ClockStoodStill => s.clock_stood_still_runs > 0,
        Rule::KernelDistrust => s.watchdog_marks + s.clocksource_changes > 0,
        Rule::RtThrottling => s.rt_throttled > 0,
        Rule::TimeLost | Rule::ReadCost => false,
    }
}

pub fn split(rule: Rule, members: &[usize], settings: &[Setting], ctx: &Context) -> Vec<Vec<usize>> {
    match rule {
        Rule::TimeLost if ctx.common.is_empty() => vec![members.to_vec()],
        Rule::TimeLost => tiers_of(
            members,
            |i| {
                let (_, l) = worst(&settings[i], &ctx.common).expect("measured under every common stall");
                let m = magnitude(l);
                Span { low: m - l.plus_minus_ns, mid: m, high: m + l.plus_minus_ns }
            },
            |a, b| b - a > TIME_LOST_FLOOR_NS,
        ),
        Rule::ReadCost if members.iter().any(|&i| settings[i].read_cost.is_none()) => vec![members.to_vec()],
        Rule::ReadCost => tiers_of(
            members,
            |i| {
                let c = settings[i].read_cost.as_ref().expect("checked above");
                Span { low: c.min_ns, mid: c.mean_ns, high: c.max_ns }
            },
            |a, b| b >= READ_COST_FACTOR * a,
        ),
        _ => {
            let (fine, troubled): (Vec<usize>, Vec<usize>) = members.iter().partition(|&&i| !has_trouble(rule, &settings[i]));
            [fine, troubled].into_iter().filter(|t| !t.is_empty()).collect()
        }
    }
}

/// A figure with what it may be: its interval (low..high, around mid).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub low: f64,
    pub mid: f64,
    pub high: f64,
}

/// Tiers by interval: in order of `mid`, a setting starts a new tier only
/// when its interval lies wholly above every interval of the tier before
/// and `apart(that tier's highest mid, its mid)`; otherwise it joins, and
/// any tier it overlaps merges with it. Settings in different tiers are
/// then separated pairwise; settings in one tier are linked by a chain of
/// settings that could not be.
pub fn tiers_of(members: &[usize], span: impl Fn(usize) -> Span, apart: impl Fn(f64, f64) -> bool) -> Vec<Vec<usize>> {
    let mut sorted: Vec<(usize, Span)> = members.iter().map(|&i| (i, span(i))).collect();
    sorted.sort_by(|a, b| a.1.mid.total_cmp(&b.1.mid));
    let mut tiers: Vec<(Vec<usize>, Span)> = Vec::new();
    for (i, s) in sorted {
        let separated_from = |t: &Span| s.low > t.high && apart(t.mid, s.mid);
        match tiers.iter().position(|(_, t)| !separated_from(t)) {
            None => tiers.push((vec![i], s)),
            Some(first) => {
                let mut merged = vec![];
                let mut bounds = s;
                for (ids, t) in tiers.drain(first..) {
                    merged.extend(ids);
                    bounds = Span { low: bounds.low.min(t.low), mid: bounds.mid.max(t.mid), high: bounds.high.max(t.high) };
                }
                merged.push(i);
                tiers.push((merged, bounds));
            }
        }
    }
    tiers.into_iter().map(|(ids, _)| ids).collect()
}

pub fn runs(n: usize) -> String {
    if n == 1 {
        "1 run".into()
    } else {
        format!("{n} runs")
    }
}

fn times(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// A time lost as the verdicts say it: "< 1.60 ms" when it is within a
/// millisecond and its ±, else "9.37 s ± 607 µs".
pub fn loss_text(l: &StallLoss) -> String {
    if l.stopped_for_good {
        "clock stopped for good".into()
    } else if l.lost_ns.abs() < 1e6 + l.plus_minus_ns {
        format!("< {}", ns(1e6 + l.plus_minus_ns))
    } else {
        format!("{} ± {}", ns(l.lost_ns), ns(l.plus_minus_ns))
    }
}

/// The setting's figure for a rule, with the runs behind it.
pub fn figure(rule: Rule, s: &Setting, ctx: &Context) -> String {
    let n = runs(s.runs);
    match rule {
        Rule::GuestBroke => {
            let mut parts = Vec::new();
            if s.clock_stopped_for_good_runs > 0 {
                parts.push(format!("clock stopped for good in {} of {n}", s.clock_stopped_for_good_runs));
            }
            if s.silent_runs > 0 {
                parts.push(format!("went silent in {} of {n}", s.silent_runs));
            }
            if s.lockups > 0 {
                parts.push(format!("{} in {n}", times(s.lockups, "lockup")));
            }
            if parts.is_empty() {
                format!("kept time, no lockup ({n})")
            } else {
                parts.join(", ")
            }
        }
        Rule::TimeLost => match worst(s, &ctx.common) {
            None => "no time-lost figure".into(),
            Some((k, l)) if l.stopped_for_good => format!("clock stopped for good after the {} ({})", ctx.stalls[k].label(), runs(l.runs)),
            Some((_, l)) if loss_text(l).starts_with('<') => format!("{} ({})", loss_text(l), runs(l.runs)),
            Some((k, l)) => format!("{} per {} ({})", loss_text(l), ctx.stalls[k].label(), runs(l.runs)),
        },
        Rule::BackwardSteps if s.backward_steps == 0 => format!("never stepped back ({n})"),
        Rule::BackwardSteps => format!("stepped back {} ({n})", times(s.backward_steps, "time")),
        Rule::ClockStoodStill if s.clock_stood_still_runs == 0 => format!("never stood still ({n})"),
        Rule::ClockStoodStill => format!("stood still in {} of {n}", s.clock_stood_still_runs),
        Rule::KernelDistrust if s.watchdog_marks + s.clocksource_changes == 0 => format!("no watchdog mark or clocksource change ({n})"),
        Rule::KernelDistrust => {
            format!("{}, {} ({n})", times(s.watchdog_marks, "watchdog mark"), times(s.clocksource_changes, "clocksource change"))
        }
        Rule::RtThrottling if s.rt_throttled == 0 => format!("no RT throttling ({n})"),
        Rule::RtThrottling => format!("RT throttled after {} ({n})", times(s.rt_throttled, "stall")),
        Rule::ReadCost => match &s.read_cost {
            Some(c) => format!("{} ({}, {})", factor_text(c.factor), ns(c.mean_ns), runs(c.runs)),
            None => "no read-cost figure".into(),
        },
    }
}

/// "2.00 s freeze, 9.00 s freeze": the stall lengths with a figure, or "none".
fn measured_under(s: &Setting, stalls: &[Stall]) -> String {
    let under: Vec<String> = stalls.iter().zip(&s.time_lost).filter(|(_, l)| l.is_some()).map(|(st, _)| st.label()).collect();
    if under.is_empty() {
        "none".into()
    } else {
        under.join(", ")
    }
}

/// "1.04x", "10.6x": three figures.
pub fn factor_text(factor: f64) -> String {
    format!("{}x", crate::format::significant(factor))
}

/// "tsc < 1.60 ms (2 runs), hpet < 2.58 ms (2 runs)".
pub fn figures_of(rule: Rule, ids: &[usize], settings: &[Setting], ctx: &Context) -> String {
    ids.iter().map(|&i| format!("{} {}", settings[i].label, figure(rule, &settings[i], ctx))).collect::<Vec<_>>().join(", ")
}

/// Why a rule left settings together.
pub fn why_together(rule: Rule, ids: &[usize], settings: &[Setting], ctx: &Context) -> String {
    match rule {
        Rule::TimeLost if ctx.common.is_empty() => "no stall length all of them were measured under".into(),
        Rule::TimeLost => format!("their intervals overlap or lie within {} of each other", ns(TIME_LOST_FLOOR_NS)),
        Rule::ReadCost if ids.iter().any(|&i| settings[i].read_cost.is_none()) => "not every one has a read-cost figure".into(),
        Rule::ReadCost => format!("their runs overlap or lie within {READ_COST_FACTOR}x of each other"),
        _ if ids.iter().all(|&i| has_trouble(rule, &settings[i])) => "all of them: the rule asks whether, not how many".into(),
        _ => "none of them".into(),
    }
}

/// The rule's title, with the stall lengths it compared when that is not
/// every one tested.
pub fn heading(rule: Rule, ctx: &Context) -> String {
    if rule != Rule::TimeLost || ctx.common.is_empty() || ctx.common.len() == ctx.stalls.len() {
        return rule.title().into();
    }
    let compared: Vec<String> = ctx.common.iter().map(|&k| ctx.stalls[k].label()).collect();
    format!("{} (under the {} only: what all of them were measured under)", rule.title(), compared.join(", "))
}

fn sentence(rule: Rule, tiers: &[Vec<usize>], settings: &[Setting], ctx: &Context) -> String {
    let head = heading(rule, ctx);
    if rule == Rule::TimeLost && ctx.common.is_empty() {
        let under: Vec<String> = tiers[0].iter().map(|&i| format!("{}: {}", settings[i].label, measured_under(&settings[i], ctx.stalls))).collect();
        return format!("{head}: not compared: {} ({})", why_together(rule, &tiers[0], settings, ctx), under.join("; "));
    }
    if tiers.len() == 1 {
        let why = why_together(rule, &tiers[0], settings, ctx);
        return format!("{head}: {}: not separated ({why})", figures_of(rule, &tiers[0], settings, ctx));
    }
    let parts: Vec<String> = tiers
        .iter()
        .map(|t| {
            let figures = figures_of(rule, t, settings, ctx);
            if t.len() > 1 {
                format!("{figures} (not separated: {})", why_together(rule, t, settings, ctx))
            } else {
                figures
            }
        })
        .collect();
    format!("{head}: {}", parts.join(" ahead of "))
}
