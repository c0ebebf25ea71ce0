//! The report: one versioned model (provenance, every run's summary, gates,
//! statistics over repetitions) that every renderer reads.

use serde::{Deserialize, Serialize};

use clockstorm_protocol::Manifest;

use crate::gates::GateResult;
use crate::stats::{mean_ci, median_bootstrap_ci, MeanCi, MedianCi, Sample};
use crate::RunSummary;

/// Version of the report model; bump on incompatible changes.
pub const REPORT_SCHEMA_VERSION: u32 = 1;
/// Resamples of the bootstrap intervals.
pub const BOOTSTRAP_RESAMPLES: u32 = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// Versions, kernels, QEMU, host, scenario and its hash, seed, command lines.
    pub provenance: Manifest,
    pub runs: Vec<RunSummary>,
    pub gates: Vec<GateResult>,
    /// Per combination (a run id without its repetition), statistics over
    /// its repetitions; only combinations with at least two completed runs.
    pub groups: Vec<GroupStats>,
    /// Per fault and clocksource: time lost, what the clock model predicts,
    /// and a sentence.
    pub verdicts: Vec<FaultVerdict>,
}

/// What one fault cost one clocksource, over every run that had it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultVerdict {
    pub fault: usize,
    pub kind: String,
    pub length_ms: u64,
    pub clocksource: String,
    pub runs: usize,
    /// Mean time lost over the runs, and its ± (the largest exchange bound,
    /// or the 95 % CI half-width over repetitions when that is wider), in ns.
    pub lost_ns: f64,
    pub plus_minus_ns: f64,
    pub predicted_ns: Option<f64>,
    /// Measurement and model differ by more than 10 ms plus the ±.
    pub disagrees_with_model: bool,
    pub sentence: String,
}

/// Slack between measurement and model before they are said to disagree:
/// the tolerance the fault tests justify (loaded hosts, exchange spikes).
pub const MODEL_TOLERANCE_NS: f64 = 10_000_000.0;

/// One metric of one combination over its repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStats {
    pub group: String,
    pub metric: String,
    pub unit: String,
    /// Mean with a Student-t 95 % interval.
    pub mean: MeanCi,
    /// Median with a seeded percentile-bootstrap 95 % interval.
    pub median: MedianCi,
}

/// The combination a run belongs to: its id without a `.rN` suffix.
pub fn group_of(run_id: &str) -> &str {
    match run_id.rfind(".r") {
        Some(i) if run_id[i + 2..].chars().all(|c| c.is_ascii_digit()) && i + 2 < run_id.len() => &run_id[..i],
        _ => run_id,
    }
}

/// Builds the report; `seed` seeds the bootstrap (the scenario's seed).
pub fn build(provenance: Manifest, runs: Vec<RunSummary>, gates: Vec<GateResult>) -> Report {
    let seed = provenance.seed;
    let mut groups = Vec::new();
    let mut names: Vec<&str> = runs.iter().map(|r| group_of(&r.run_id)).collect();
    names.dedup();
    names.sort();
    names.dedup();
    for name in names {
        let members: Vec<&RunSummary> = runs.iter().filter(|r| group_of(&r.run_id) == name && r.status == "completed").collect();
        let mut metric = |metric: &str, unit: &str, values: Vec<f64>| {
            if let Ok(sample) = Sample::new(values) {
                groups.push(GroupStats {
                    group: name.to_owned(),
                    metric: metric.to_owned(),
                    unit: unit.to_owned(),
                    mean: mean_ci(&sample, 0.95),
                    median: median_bootstrap_ci(&sample, 0.95, BOOTSTRAP_RESAMPLES, seed),
                });
            }
        };
        metric("max gap", "ms", members.iter().filter_map(|r| r.max_gap_ns).map(|g| g as f64 / 1e6).collect());
        metric("read cost", "ns", members.iter().filter_map(|r| r.read_cost_ns).collect());
        metric("offset uncertainty", "µs", members.iter().filter_map(|r| r.offset_uncertainty_median_ns).map(|u| u as f64 / 1e3).collect());
        let faults = members.iter().map(|r| r.faults.len()).max().unwrap_or(0);
        for i in 0..faults {
            let lost: Vec<f64> = members.iter().filter_map(|r| r.faults.get(i)?.lost_ns).map(|l| l as f64 / 1e9).collect();
            metric(&format!("time lost, fault {i}"), "s", lost);
        }
    }
    let verdicts = verdicts(&runs, &provenance.accel);
    Report { schema_version: REPORT_SCHEMA_VERSION, provenance, runs, gates, groups, verdicts }
}

fn verdicts(runs: &[RunSummary], accel: &str) -> Vec<FaultVerdict> {
    use crate::format::ns;
    let mut keys: Vec<(usize, String)> =
        runs.iter().flat_map(|r| r.faults.iter().map(move |f| (f.index, r.clocksource.clone()))).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for (index, clocksource) in keys {
        let faults: Vec<_> = runs
            .iter()
            .filter(|r| r.clocksource == clocksource && r.status == "completed")
            .filter_map(|r| r.faults.iter().find(|f| f.index == index))
            .collect();
        let measured: Vec<(f64, f64)> =
            faults.iter().filter_map(|f| Some((f.lost_ns? as f64, f.lost_uncertainty_ns? as f64))).collect();
        let Some(first) = faults.first() else { continue };
        if measured.is_empty() {
            continue;
        }
        let lost_ns = measured.iter().map(|m| m.0).sum::<f64>() / measured.len() as f64;
        let mut plus_minus_ns = measured.iter().map(|m| m.1).fold(0.0, f64::max);
        if let Ok(sample) = Sample::new(measured.iter().map(|m| m.0).collect()) {
            let ci = mean_ci(&sample, 0.95);
            plus_minus_ns = plus_minus_ns.max((ci.high - ci.low) / 2.0);
        }
        let length_ms = first.planned_duration_ms;
        let achieved = faults.iter().map(|f| f.achieved_ns as f64).sum::<f64>() / faults.len() as f64;
        let predicted_ns = crate::predict::predicted_loss_ns(&first.kind, achieved, &clocksource, accel);
        let disagrees = predicted_ns.is_some_and(|p| (lost_ns - p).abs() > MODEL_TOLERANCE_NS + plus_minus_ns);
        let what = if lost_ns.abs() < 1e6 + plus_minus_ns { format!("loses < {}", ns(1e6 + plus_minus_ns)) } else {
            format!("loses {} ± {}", ns(lost_ns), ns(plus_minus_ns))
        };
        let model = match predicted_ns {
            Some(p) if disagrees => format!("; the clock model predicts {}: DISAGREES", if p == 0.0 { "nothing lost".into() } else { ns(p) }),
            Some(p) if p == 0.0 => " (model: nothing lost)".to_owned(),
            Some(p) => format!(" (model: {})", ns(p)),
            None => String::new(),
        };
        let sentence = format!(
            "{clocksource} {what} per {} {} ({} run{}){model}",
            ns(length_ms as f64 * 1e6),
            first.kind,
            measured.len(),
            if measured.len() == 1 { "" } else { "s" }
        );
        out.push(FaultVerdict {
            fault: index,
            kind: first.kind.clone(),
            length_ms,
            clocksource,
            runs: measured.len(),
            lost_ns,
            plus_minus_ns,
            predicted_ns,
            disagrees_with_model: disagrees,
            sentence,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_drop_only_a_repetition_suffix() {
        assert_eq!(super::group_of("vf-reload-tsc.r3"), "vf-reload-tsc");
        assert_eq!(super::group_of("kci-tsc.debian-bullseye-cloud-amd64.r0"), "kci-tsc.debian-bullseye-cloud-amd64");
        assert_eq!(super::group_of("idle-tsc"), "idle-tsc");
        assert_eq!(super::group_of("x-tsc.rx"), "x-tsc.rx");
    }
}
