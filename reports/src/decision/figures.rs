//! Each setting's figures, gathered from the runs and the verdicts the
//! report already computed (nothing measured again here).

use std::collections::BTreeMap;

use clockstorm_protocol::Manifest;

use super::{NotMeasured, ReadCostFigure, Setting, Stall, StallLoss};
use crate::kernel_events::KernelEvent;
use crate::model::{group_of, FaultVerdict};
use crate::RunSummary;

pub struct Gathered {
    /// In group-name order: ties keep it, so the table is stable.
    pub settings: Vec<Setting>,
    pub stalls: Vec<Stall>,
    pub not_measured: Vec<NotMeasured>,
}

pub fn gather(provenance: &Manifest, runs: &[RunSummary], verdicts: &[FaultVerdict]) -> Gathered {
    let stalls = stalls_tested(runs, verdicts);
    let mut by_group: BTreeMap<&str, Vec<&RunSummary>> = BTreeMap::new();
    for run in runs {
        by_group.entry(group_of(&run.run_id)).or_default().push(run);
    }
    let scenario = provenance.scenario.name.as_str();
    let label_of = |group: &str| group.strip_prefix(scenario).and_then(|g| g.strip_prefix('-')).unwrap_or(group).to_owned();
    let mut settings = Vec::new();
    let mut not_measured = Vec::new();
    for (group, group_runs) in by_group {
        let measured: Vec<&RunSummary> = group_runs.iter().copied().filter(|r| r.measured()).collect();
        let unmeasured: Vec<&RunSummary> = group_runs.iter().copied().filter(|r| !r.measured()).collect();
        if measured.is_empty() {
            not_measured.push(NotMeasured {
                group: group.to_owned(),
                label: label_of(group),
                runs: group_runs.len(),
                reason: why_not_measured(&unmeasured),
            });
            continue;
        }
        let manifest_run = provenance.runs.iter().find(|r| group_of(&r.id) == group);
        let group_verdicts: Vec<&FaultVerdict> = verdicts.iter().filter(|v| v.group == group).collect();
        let count_runs = |f: &dyn Fn(&RunSummary) -> bool| measured.iter().filter(|r| f(r)).count();
        let sum = |f: &dyn Fn(&RunSummary) -> u64| measured.iter().map(|r| f(r)).sum::<u64>();
        settings.push(Setting {
            group: group.to_owned(),
            label: label_of(group),
            clocksource: manifest_run.map_or_else(|| measured[0].clocksource.clone(), |r| r.clocksource.kernel_name().to_owned()),
            kernel: manifest_run.map(|r| r.kernel.clone()),
            variant: manifest_run.map(|r| r.variant.clone()),
            rank: 0,
            runs: measured.len(),
            runs_planned: group_runs.len(),
            unmeasured_runs: unmeasured.iter().map(|r| describe_unmeasured(r)).collect(),
            time_lost: stalls.iter().map(|s| worst_loss(&group_verdicts, s)).collect(),
            clock_stopped_for_good_runs: count_runs(&|r| r.status == "clock stopped" || r.clock_stops.iter().any(|c| !c.recovered())),
            silent_runs: count_runs(&|r| r.status == "silent"),
            clock_stood_still_runs: count_runs(&|r| r.clock_stops.iter().any(|c| c.recovered())),
            lockups: sum(&|r| r.soft_lockups + r.kernel_events.iter().filter(|e| matches!(e, KernelEvent::HardLockup { .. })).count() as u64),
            backward_steps: sum(&|r| r.backwards_steps),
            watchdog_marks: sum(&|r| r.kernel_events.iter().filter(|e| marks_unstable(e)).count() as u64),
            clocksource_changes: sum(&|r| r.clocksource_changes.len() as u64),
            rt_throttled: sum(&|r| r.faults.iter().filter(|f| rt_throttled_after(f)).count() as u64),
            read_cost: read_cost(&measured),
        });
    }
    Gathered { settings, stalls, not_measured }
}

/// Whether the kernel held RT tasks off their CPU after the fault: by the
/// probe's measure (its timer thread ran at least 100 ms after the
/// samplers), or by the kernel's own word (`sched: RT throttling
/// activated` among the fault's kernel events: the kernel throttled, even
/// for less than the probe can tell from TCG's scheduling noise; seen after
/// 2 s freezes of 6.1 guests, with the timer's hold under 100 ms).
fn rt_throttled_after(f: &crate::faults::FaultSummary) -> bool {
    f.rt_throttled_ns.is_some() || f.kernel_events.iter().any(|e| matches!(e.event, KernelEvent::RtThrottling { .. }))
}

/// Each read cost as a factor of the cheapest mean among the settings.
pub fn set_read_cost_factors(settings: &mut [Setting]) {
    let cheapest = settings
        .iter()
        .filter_map(|s| s.read_cost.as_ref())
        .map(|c| c.mean_ns)
        .filter(|m| *m > 0.0)
        .fold(f64::INFINITY, f64::min);
    for cost in settings.iter_mut().filter_map(|s| s.read_cost.as_mut()) {
        cost.factor = if cheapest.is_finite() { cost.mean_ns / cheapest } else { 1.0 };
    }
}

/// Every kind and length of fault in a measured run's timeline, in kind
/// then length order.
fn stalls_tested(runs: &[RunSummary], verdicts: &[FaultVerdict]) -> Vec<Stall> {
    let mut stalls: Vec<Stall> = runs
        .iter()
        .filter(|r| r.measured())
        .flat_map(|r| r.faults.iter().map(|f| Stall { kind: f.kind, length_ms: f.planned_duration_ms }))
        .chain(verdicts.iter().map(|v| Stall { kind: v.kind, length_ms: v.length_ms }))
        .collect();
    stalls.sort();
    stalls.dedup();
    stalls
}

/// The verdict of the setting's fault of this kind and length that lost
/// most (a clock stopped for good loses everything after it).
fn worst_loss(verdicts: &[&FaultVerdict], stall: &Stall) -> Option<StallLoss> {
    verdicts
        .iter()
        .filter(|v| v.kind == stall.kind && v.length_ms == stall.length_ms)
        .map(|v| StallLoss {
            lost_ns: v.lost_ns,
            plus_minus_ns: v.plus_minus_ns,
            runs: v.runs.max(v.clock_stopped_for_good_runs),
            stopped_for_good: v.runs == 0,
        })
        .max_by(|a, b| magnitude(a).total_cmp(&magnitude(b)))
}

/// How much a loss weighs in the ranking: its size, or infinity for a
/// clock that stopped for good.
pub fn magnitude(l: &StallLoss) -> f64 {
    if l.stopped_for_good {
        f64::INFINITY
    } else {
        l.lost_ns.abs()
    }
}

/// The kernel gave up on a clocksource: the watchdog's verdicts, not its
/// skipped checks (a long readout is reported on every long stall).
fn marks_unstable(e: &KernelEvent) -> bool {
    use KernelEvent::*;
    match e {
        ClocksourceUnstableLegacy { .. }
        | ClocksourceSkew { .. }
        | ClocksourceFreqSkew { .. }
        | ClocksourceCpuSkew { .. }
        | TscMarkedUnstable { .. }
        | TscUnstableAfterBoot { .. }
        | TscWarp { .. }
        // Both its forms end "marking (X) unstable".
        | ClocksourceReadBackDelay { .. } => true,
        _ => false,
    }
}

fn read_cost(runs: &[&RunSummary]) -> Option<ReadCostFigure> {
    let costs: Vec<f64> = runs.iter().filter_map(|r| r.read_cost_ns).filter(|c| c.is_finite()).collect();
    if costs.is_empty() {
        return None;
    }
    Some(ReadCostFigure {
        mean_ns: costs.iter().sum::<f64>() / costs.len() as f64,
        min_ns: costs.iter().copied().fold(f64::INFINITY, f64::min),
        max_ns: costs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        runs: costs.len(),
        factor: 1.0,
    })
}

fn describe_unmeasured(r: &RunSummary) -> String {
    match &r.detail {
        Some(d) => format!("{}: {}: {d}", r.run_id, r.status),
        None => format!("{}: {}", r.run_id, r.status),
    }
}

/// "2 runs skipped: kvm-clock is KVM's paravirtual clock …": each distinct
/// status and reason once.
fn why_not_measured(runs: &[&RunSummary]) -> String {
    let mut reasons: Vec<(String, Option<&str>, usize)> = Vec::new();
    for r in runs {
        match reasons.iter_mut().find(|(s, d, _)| *s == r.status && *d == r.detail.as_deref()) {
            Some(entry) => entry.2 += 1,
            None => reasons.push((r.status.clone(), r.detail.as_deref(), 1)),
        }
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|(status, detail, n)| {
            let runs = if *n == 1 { "1 run".to_owned() } else { format!("{n} runs") };
            match detail {
                Some(d) => format!("{runs} {status}: {d}"),
                None => format!("{runs} {status}"),
            }
        })
        .collect();
    parts.join("; ")
}
