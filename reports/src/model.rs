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
}

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
    Report { schema_version: REPORT_SCHEMA_VERSION, provenance, runs, gates, groups }
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
