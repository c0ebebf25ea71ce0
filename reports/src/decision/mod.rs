//! The decision: which setting (clocksource × kernel × variant) to roll
//! out, from the figures the report already has. A ranked table of what
//! matters to that choice, the rules that ranked it, and one
//! recommendation, or what keeps the evidence from making one
//! (docs/decision.md). Pure, and blind to clocksource names: only figures
//! rank.

mod figures;
mod recommend;
mod rules;
#[cfg(test)]
mod snapshot_tests;
pub mod table;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use clockstorm_protocol::{FaultKindName, Manifest};

use crate::model::FaultVerdict;
use crate::RunSummary;

pub use rules::Rule;

/// A recommendation needs at least this many measured runs of every
/// setting ranked: a figure from one run cannot show that it repeats (the
/// comparisons between groups need as many).
pub const MIN_RUNS: usize = 2;
/// Time lost closer than this cannot separate two settings, whatever their
/// ±: the noise floor of time lost on a loaded host (`model::MODEL_TOLERANCE_NS`).
pub const TIME_LOST_FLOOR_NS: f64 = crate::model::MODEL_TOLERANCE_NS;
/// Read costs less than this factor apart cannot separate two settings:
/// two runs of the same setting on this 2-core TCG host read 170 and 311 ns
/// (README, "Sample output").
pub const READ_COST_FACTOR: f64 = 1.5;

/// The decision section of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// The stall lengths tested (kind and length), in the table's order.
    pub stalls: Vec<Stall>,
    /// The settings measured, best first; settings no rule could separate
    /// share a rank.
    pub settings: Vec<Setting>,
    /// Settings none of whose runs measured (skipped, failed), with why.
    pub not_measured: Vec<NotMeasured>,
    /// Each rule as it was applied to settings not yet separated, in order.
    pub steps: Vec<RankStep>,
    pub recommendation: Recommendation,
}

/// One stall length tested: a fault kind and its planned length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stall {
    pub kind: FaultKindName,
    pub length_ms: u64,
}

impl Stall {
    /// "9.00 s freeze".
    pub fn label(&self) -> String {
        format!("{} {}", crate::format::ns(self.length_ms as f64 * 1e6), self.kind)
    }
}

/// What one setting did, over its measured runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Setting {
    /// The run ids without their repetition (`model::group_of`).
    pub group: String,
    /// The group without the scenario's name: what the report calls it.
    pub label: String,
    pub clocksource: String,
    pub kernel: Option<String>,
    pub variant: Option<String>,
    /// 1 for the best; equal for settings no rule separated.
    pub rank: usize,
    /// Runs that measured, and runs planned.
    pub runs: usize,
    pub runs_planned: usize,
    /// Runs that did not measure: "run id: status: why".
    pub unmeasured_runs: Vec<String>,
    /// Per stall of `Decision::stalls`, the worst time lost under it (the
    /// verdict of the fault of that kind and length that lost most); None:
    /// not measured under it.
    pub time_lost: Vec<Option<StallLoss>>,
    /// Runs in which a guest clock stopped and did not advance again, in
    /// which the probe went silent, and in which a clock stood still for a
    /// while and then advanced again.
    pub clock_stopped_for_good_runs: usize,
    pub silent_runs: usize,
    pub clock_stood_still_runs: usize,
    /// Soft lockups, RCU stalls and hard lockups the guest kernel reported.
    pub lockups: u64,
    /// Steps back of the guest's clocks, over all runs.
    pub backward_steps: u64,
    /// Times the guest kernel marked a clocksource unstable, and changed it.
    pub watchdog_marks: u64,
    pub clocksource_changes: u64,
    /// Stalls after which the kernel held RT tasks off their CPU, over all runs.
    pub rt_throttled: u64,
    pub read_cost: Option<ReadCostFigure>,
}

/// The worst time lost under one stall length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StallLoss {
    /// The fault's verdict: mean time lost and its ±, in ns.
    pub lost_ns: f64,
    pub plus_minus_ns: f64,
    /// Runs behind the figure (those with a time-lost figure, or whose
    /// clock stopped for good after it).
    pub runs: usize,
    /// No run has a figure: the clock stopped for good after it.
    pub stopped_for_good: bool,
}

/// Read cost of `clock_gettime(CLOCK_MONOTONIC)` over the runs, and as a
/// factor of the cheapest setting's mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReadCostFigure {
    pub mean_ns: f64,
    pub min_ns: f64,
    pub max_ns: f64,
    pub runs: usize,
    pub factor: f64,
}

/// A setting with no measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotMeasured {
    pub group: String,
    pub label: String,
    pub runs: usize,
    /// "2 runs skipped: kvm-clock is KVM's paravirtual clock …".
    pub reason: String,
}

/// One rule applied to settings that earlier rules had not separated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RankStep {
    pub rule: Rule,
    /// The settings (labels) it was applied to.
    pub among: Vec<String>,
    /// What it made of them, best first; one tier: it could not separate them.
    pub tiers: Vec<Vec<String>>,
    /// The figures it went by and what they separated, or why they could not.
    pub sentence: String,
}

impl RankStep {
    pub fn separated(&self) -> bool {
        self.tiers.len() > 1
    }
}

/// The answer in plain words.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recommendation {
    /// The setting recommended (its label); None: the evidence does not pick one.
    pub setting: Option<String>,
    pub sentence: String,
}

/// The decision over a report's runs and verdicts.
pub fn decide(provenance: &Manifest, runs: &[RunSummary], verdicts: &[FaultVerdict]) -> Decision {
    let gathered = figures::gather(provenance, runs, verdicts);
    decide_on(gathered.settings, gathered.stalls, gathered.not_measured)
}

/// The decision over settings already gathered (in a stable order).
fn decide_on(mut settings: Vec<Setting>, stalls: Vec<Stall>, not_measured: Vec<NotMeasured>) -> Decision {
    figures::set_read_cost_factors(&mut settings);
    let (tiers, steps) = rules::rank(&settings, &stalls);
    let recommendation = recommend::recommend(&settings, &stalls, &tiers, &steps, &not_measured);
    // Competition ranking ("1, 1, 3"), settings in their tiers' order.
    let mut ranked = Vec::with_capacity(settings.len());
    for tier in &tiers {
        let rank = ranked.len() + 1;
        ranked.extend(tier.iter().map(|&i| Setting { rank, ..settings[i].clone() }));
    }
    Decision { stalls, settings: ranked, not_measured, steps, recommendation }
}
