//! The report: one versioned model (provenance, every run's summary, gates,
//! statistics over repetitions) that every renderer reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use clockstorm_protocol::{Accel, Clocksource, FaultKindName, Manifest};

use crate::gates::GateResult;
use crate::series::RunSeries;
use crate::stats::{mean_ci, median_bootstrap_ci, Comparison, MeanCi, MedianCi, Sample};
use crate::RunSummary;

/// Version of the report model; bump on incompatible changes.
/// 2: comparisons between groups, a baseline, plot series per run.
pub const REPORT_SCHEMA_VERSION: u32 = 2;
/// Resamples of the bootstrap intervals.
pub const BOOTSTRAP_RESAMPLES: u32 = 2000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    /// Versions, kernels, QEMU, host, scenario and its hash, seed, command lines.
    pub provenance: Manifest,
    /// Which setting to choose, ranked on the figures below, with the
    /// rules that ranked and one recommendation (docs/decision.md).
    #[serde(default)]
    pub decision: crate::decision::Decision,
    pub runs: Vec<RunSummary>,
    pub gates: Vec<GateResult>,
    /// Per combination (a run id without its repetition), statistics over
    /// its repetitions; only combinations with at least two completed runs.
    pub groups: Vec<GroupStats>,
    /// Per fault and clocksource: time lost, what the clock model predicts,
    /// and a sentence.
    pub verdicts: Vec<FaultVerdict>,
    /// Every step back of a guest clock: where, how far, and what the model
    /// expects there.
    #[serde(default)]
    pub backsteps: Vec<crate::backsteps::StepExplanation>,
    /// Each kernel's clock rule as the model used it, and how the kernels'
    /// rules differ, in words (where a narrow counter was frozen).
    #[serde(default)]
    pub kernel_rules: Vec<String>,
    /// Groups that differ in one dimension (clocksource, kernel or variant),
    /// compared metric by metric.
    pub comparisons: Vec<Comparison>,
    /// The same groups against an earlier results directory (`--baseline`).
    pub baseline: Option<BaselineReport>,
    /// Per run, what the HTML report plots.
    pub series: Vec<RunSeries>,
}

/// This results directory against an earlier one, group by group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineReport {
    /// The baseline directory as given.
    pub dir: String,
    /// Its scenario hash and clockstorm version, to tell like from unlike.
    pub scenario_sha256: String,
    pub clockstorm_version: String,
    /// Per group and metric: current (a) against baseline (b).
    pub changes: Vec<BaselineChange>,
    /// Group metrics that could not be tested, and why (e.g. one repetition).
    pub not_compared: Vec<String>,
}

/// One metric of one group against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaselineChange {
    pub comparison: Comparison,
    /// Worse than the baseline, significantly and by more than the noise
    /// threshold: fails `clockstorm report --baseline` with exit code 4.
    pub regression: bool,
}

impl BaselineReport {
    pub fn regressions(&self) -> usize {
        self.changes.iter().filter(|c| c.regression).count()
    }
}

/// What one fault cost one clocksource, over every run that had it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultVerdict {
    pub fault: usize,
    pub kind: FaultKindName,
    pub length_ms: u64,
    pub clocksource: String,
    /// The combination: the run id without its repetition.
    pub group: String,
    pub runs: usize,
    /// Mean time lost over the runs, and its ± (the largest exchange bound,
    /// or the 95 % CI half-width over repetitions when that is wider), in ns.
    pub lost_ns: f64,
    pub plus_minus_ns: f64,
    pub predicted_ns: Option<f64>,
    /// The model expects the guest's clock to stop for good after it.
    #[serde(default)]
    pub predicts_clock_stop: bool,
    /// Which kernel rule the prediction came from (a narrow counter's
    /// freeze): a measured profile, or the generic rule.
    #[serde(default)]
    pub model_rule: Option<String>,
    /// Measurement and model differ by more than `predict::tolerance_ns` plus the ±.
    pub disagrees_with_model: bool,
    /// Runs in which the guest's clock stopped advancing after this fault,
    /// and those in which it had not advanced again when the run ended.
    #[serde(default)]
    pub clock_stopped_runs: usize,
    #[serde(default)]
    pub clock_stopped_for_good_runs: usize,
    /// Runs in which the kernel throttled RT tasks after this fault, and the
    /// longest throttle, in ns.
    #[serde(default)]
    pub rt_throttled_runs: usize,
    #[serde(default)]
    pub rt_throttled_max_ns: Option<u64>,
    pub sentence: String,
}

/// The noise floor of time lost: the exchanges' spread on a loaded host
/// (see `predict::tolerance_ns`, which adds to it for pauses).
pub const MODEL_TOLERANCE_NS: f64 = 10_000_000.0;

/// The JSON Schema of `report.json` (the committed copy is
/// docs/report.schema.json; a test keeps the two equal).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).expect("a schema serializes")
}

/// One metric of one combination over its repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupStats {
    pub group: String,
    pub metric: String,
    pub unit: String,
    /// Mean with a Student-t 95 % interval.
    pub mean: MeanCi,
    /// Median with a seeded percentile-bootstrap 95 % interval.
    pub median: MedianCi,
    /// Each completed run's value, in run order: shown beside the interval,
    /// since with few runs the runs say more than the interval.
    #[serde(default)]
    pub values: Vec<f64>,
    /// The least value the metric can take (0 for a cost, a gap, an
    /// uncertainty, a latency); None when it can be negative (time lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<f64>,
}

/// Below this many runs a 95 % t interval is too wide to mean much: its
/// half-width is t(0.975, n-1) standard errors, 12.7 at n = 2, 4.30 at 3,
/// 3.18 at 4 and 2.78 at 5 (against 1.96 for large n).
pub const FEW_RUNS: usize = 5;

impl GroupStats {
    /// The mean's 95 % interval kept inside what the metric can take:
    /// `(low, high, clipped)`. The t interval is symmetric and knows nothing
    /// of a floor; a read cost's interval reaching below 0 ns only says the
    /// runs are too few or too spread for it.
    pub fn shown_interval(&self) -> (f64, f64, bool) {
        match self.floor {
            Some(floor) if self.mean.low < floor => (floor, self.mean.high, true),
            _ => (self.mean.low, self.mean.high, false),
        }
    }

    /// What a reader must know to read the interval: too few runs, or an
    /// interval clipped at the metric's floor (with the unclipped bound).
    pub fn interval_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.mean.n < FEW_RUNS {
            notes.push(format!("{} runs: too few for the interval to mean much", self.mean.n));
        }
        if let (_, _, true) = self.shown_interval() {
            let floor = self.floor.unwrap_or_default();
            let at = if floor == 0.0 { "0".to_owned() } else { crate::stats::with_unit(floor, &self.unit) };
            let cannot = if floor == 0.0 { "cannot be negative".to_owned() } else { format!("cannot be below {at}") };
            notes.push(format!(
                "clipped at {at}: {} {cannot} (the t interval reaches {})",
                self.metric,
                crate::stats::with_unit(self.mean.low, &self.unit)
            ));
        }
        notes
    }
}

/// The least value `metric` (a name `run_metrics` gives) can take.
pub fn metric_floor(metric: &str) -> Option<f64> {
    const NON_NEGATIVE: [&str; 5] = ["max gap", "read cost", "offset uncertainty", "max |offset|", "timer latency p99"];
    let per_fault = metric.starts_with("time wrong, fault ") || metric.starts_with("worst offset after fault ");
    (NON_NEGATIVE.contains(&metric) || per_fault).then_some(0.0)
}

/// The combination a run belongs to: its id without a `.rN` suffix.
pub fn group_of(run_id: &str) -> &str {
    match run_id.rfind(".r") {
        Some(i) if run_id[i + 2..].chars().all(|c| c.is_ascii_digit()) && i + 2 < run_id.len() => &run_id[..i],
        _ => run_id,
    }
}

/// One figure of a run that groups are summarized and compared on:
/// (metric, unit, value, noise threshold floor in the unit).
pub struct RunMetric {
    pub metric: String,
    pub unit: &'static str,
    pub value: f64,
    /// Differences below this never count, whatever the p-value: the
    /// resolution of the measurement (exchange uncertainty for time lost,
    /// timer resolution under TCG for gaps, the loop's jitter for read cost).
    pub noise_floor: f64,
}

/// Relative part of the noise threshold: run-to-run variation of a
/// completed run's figures on an idle host is within a few per cent.
pub const NOISE_RELATIVE: f64 = 0.05;

/// The figures of a completed run that groups are compared on.
pub fn run_metrics(run: &RunSummary) -> Vec<RunMetric> {
    let mut out = Vec::new();
    let mut push = |metric: String, unit, value: Option<f64>, noise_floor| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            out.push(RunMetric { metric, unit, value, noise_floor });
        }
    };
    push("max gap".into(), "ms", run.max_gap_ns.map(|g| g as f64 / 1e6), 1.0);
    push("read cost".into(), "ns", run.read_cost_ns, 5.0);
    push("offset uncertainty".into(), "µs", run.offset_uncertainty_median_ns.map(|u| u as f64 / 1e3), 50.0);
    push("max |offset|".into(), "ms", run.offset_max_abs_ns.map(|o| o as f64 / 1e6), MODEL_TOLERANCE_NS / 1e6);
    let ticks = run.ticks.as_ref();
    push("timer latency p99".into(), "µs", ticks.and_then(|t| t.timer_latency_p99_ns).map(|l| l as f64 / 1e3), 50.0);
    push("timer backlog max".into(), "ticks", ticks.and_then(|t| t.timer_expirations).map(|b| b.max), 2.0);
    for f in &run.faults {
        push(format!("time lost, fault {}", f.index), "s", f.lost_ns.map(|l| l as f64 / 1e9), MODEL_TOLERANCE_NS / 1e9);
        // With a time service: how long the guest stayed wrong, and by how
        // much at worst. A run whose clock never came back has no figure
        // here (the fault table says "not back"), so the groups compare
        // the runs that recovered.
        if let Some(c) = &f.correction {
            push(format!("time wrong, fault {}", f.index), "s", f.recovery_s, 0.1);
            push(format!("worst offset after fault {}", f.index), "ms", c.worst_offset_ns.map(|w| w.abs() as f64 / 1e6), c.band_ns as f64 / 1e6);
        }
    }
    out
}

/// Per metric: its unit, noise floor and values over a group's runs.
type MetricSamples = BTreeMap<String, (&'static str, f64, Vec<f64>)>;

/// Per group (in name order), the values of each metric over its
/// completed runs; one pass over the runs.
fn group_samples(runs: &[RunSummary]) -> BTreeMap<String, MetricSamples> {
    let mut groups: BTreeMap<String, MetricSamples> = BTreeMap::new();
    for run in runs {
        let by_metric = groups.entry(group_of(&run.run_id).to_owned()).or_default();
        if !run.measured() {
            continue;
        }
        for m in run_metrics(run) {
            by_metric.entry(m.metric).or_insert((m.unit, m.noise_floor, Vec::new())).2.push(m.value);
        }
    }
    groups
}

/// The noise threshold of a comparison: the metric's floor, or a few per
/// cent of the larger mean when that is more.
pub fn noise_threshold(floor: f64, a: &Sample, b: &Sample) -> f64 {
    floor.max(NOISE_RELATIVE * a.mean().abs().max(b.mean().abs()))
}

/// Builds the report; the manifest's seed seeds the bootstrap.
pub fn build(provenance: Manifest, runs: Vec<RunSummary>, series: Vec<RunSeries>, gates: Vec<GateResult>) -> Report {
    let seed = provenance.seed;
    let samples = group_samples(&runs);
    let mut groups = Vec::new();
    for (name, metrics) in &samples {
        for (metric, (unit, _, values)) in metrics {
            if let Ok(sample) = Sample::new(values.clone()) {
                groups.push(GroupStats {
                    group: name.clone(),
                    metric: metric.clone(),
                    unit: (*unit).to_owned(),
                    mean: mean_ci(&sample, 0.95),
                    median: median_bootstrap_ci(&sample, 0.95, BOOTSTRAP_RESAMPLES, seed),
                    values: values.clone(),
                    floor: metric_floor(metric),
                });
            }
        }
    }
    let comparisons = compare_groups(&provenance, &samples);
    let rules = crate::predict::RunRules::from_manifest(&provenance);
    let rule_of = |run_id: &str| rules.rule(run_id);
    let verdicts = verdicts(&runs, provenance.accel, &provenance.scenario.name, &rule_of);
    let backsteps = crate::backsteps::explain_all(&runs, &rules);
    // The kernels' rules matter where a narrow counter was frozen.
    let kernel_rules = if verdicts.iter().any(|v| v.model_rule.is_some()) { crate::kernel_rules::explain(&provenance) } else { Vec::new() };
    let decision = crate::decision::decide(&provenance, &runs, &verdicts);
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        provenance,
        decision,
        runs,
        gates,
        groups,
        verdicts,
        backsteps,
        kernel_rules,
        comparisons,
        baseline: None,
        series,
    }
}

/// The dimensions a group is made of, from the manifest: groups are
/// compared when exactly one of them differs.
fn dimensions<'a>(provenance: &'a Manifest, group: &str) -> Option<[&'a str; 3]> {
    let run = provenance.runs.iter().find(|r| group_of(&r.id) == group)?;
    Some([run.clocksource.kernel_name(), run.kernel.as_str(), run.variant.as_str()])
}

fn compare_groups(provenance: &Manifest, samples: &BTreeMap<String, MetricSamples>) -> Vec<Comparison> {
    let samples: Vec<(&String, &MetricSamples)> = samples.iter().collect();
    let mut out = Vec::new();
    for (i, (name_a, metrics_a)) in samples.iter().enumerate() {
        for (name_b, metrics_b) in &samples[i + 1..] {
            let (Some(da), Some(db)) = (dimensions(provenance, name_a), dimensions(provenance, name_b)) else { continue };
            if da.iter().zip(db.iter()).filter(|(x, y)| x != y).count() != 1 {
                continue;
            }
            for (metric, (unit, floor, values_a)) in metrics_a.iter() {
                let Some((_, _, values_b)) = metrics_b.get(metric) else { continue };
                let (Ok(a), Ok(b)) = (Sample::new(values_a.clone()), Sample::new(values_b.clone())) else { continue };
                out.push(crate::stats::compare((metric, unit), (name_a, &a), (name_b, &b), noise_threshold(*floor, &a, &b)));
            }
        }
    }
    out
}

/// Compares every group and metric of `current` with the same group and
/// metric of `baseline`. Higher is worse for every metric compared.
pub fn compare_with_baseline(current: &[RunSummary], baseline: &[RunSummary], dir: &str, baseline_provenance: &Manifest) -> BaselineReport {
    let (now, before) = (group_samples(current), group_samples(baseline));
    let mut changes = Vec::new();
    let mut not_compared = Vec::new();
    for (group, metrics) in &now {
        let Some(old) = before.get(group) else {
            not_compared.push(format!("{group}: not in the baseline"));
            continue;
        };
        for (metric, (unit, floor, values)) in metrics {
            let Some((_, _, old_values)) = old.get(metric) else {
                not_compared.push(format!("{group} {metric}: not in the baseline"));
                continue;
            };
            match (Sample::new(values.clone()), Sample::new(old_values.clone())) {
                (Ok(a), Ok(b)) => {
                    let comparison = crate::stats::compare(
                        (metric, unit),
                        (&format!("{group} now"), &a),
                        (&format!("{group} baseline"), &b),
                        noise_threshold(*floor, &a, &b),
                    );
                    let regression = comparison.differs && comparison.mean_a > comparison.mean_b;
                    changes.push(BaselineChange { comparison, regression });
                }
                _ => not_compared.push(format!(
                    "{group} {metric}: {} run(s) now, {} in the baseline; a test needs at least 2 of each",
                    values.len(),
                    old_values.len()
                )),
            }
        }
    }
    BaselineReport {
        dir: dir.to_owned(),
        scenario_sha256: baseline_provenance.scenario.sha256.clone(),
        clockstorm_version: baseline_provenance.clockstorm_version.clone(),
        changes,
        not_compared,
    }
}

/// One verdict per fault and combination (clocksource, and kernel or
/// variant where the matrix has them: their repetitions pooled).
fn verdicts(runs: &[RunSummary], accel: Accel, scenario: &str, rule_of: &dyn Fn(&str) -> clockstorm_protocol::ClockRule) -> Vec<FaultVerdict> {
    use crate::format::ns;
    use crate::predict::Prediction;
    let mut keys: Vec<(usize, &str, &str)> =
        runs.iter().flat_map(|r| r.faults.iter().map(move |f| (f.index, group_of(&r.run_id), r.clocksource.as_str()))).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for (index, group, clocksource) in keys {
        let label = group.strip_prefix(scenario).and_then(|g| g.strip_prefix('-')).unwrap_or(group);
        let faults: Vec<_> = runs
            .iter()
            .filter(|r| group_of(&r.run_id) == group && r.measured())
            .filter_map(|r| r.faults.iter().find(|f| f.index == index))
            .collect();
        let measured: Vec<(f64, f64)> = faults.iter().filter_map(|f| Some((f.lost_ns? as f64, f.lost_uncertainty_ns? as f64))).collect();
        let Some(first) = faults.first() else { continue };
        let clock_stopped_runs = faults.iter().filter(|f| !f.clock_stops.is_empty()).count();
        let clock_stopped_for_good_runs = faults.iter().filter(|f| f.clock_stops.iter().any(|c| !c.stop.recovered())).count();
        let rt: Vec<u64> = faults.iter().filter_map(|f| f.rt_throttled_ns).collect();
        let reactions = {
            let mut r = String::new();
            if clock_stopped_runs > 0 {
                r.push_str(&format!(
                    "; the guest's clock stopped advancing after it in {clock_stopped_runs} of {} run(s){}",
                    faults.len(),
                    if clock_stopped_for_good_runs > 0 { format!(", for good in {clock_stopped_for_good_runs}") } else { String::new() }
                ));
            }
            if let Some(max) = rt.iter().max() {
                r.push_str(&format!("; RT tasks throttled for up to {} in {} of {} run(s)", ns(*max as f64), rt.len(), faults.len()));
            }
            r
        };
        let length_ms = first.planned_duration_ms;
        let achieved = faults.iter().map(|f| f.achieved_ns as f64).sum::<f64>() / faults.len() as f64;
        // The model applies to the clocksource in use when the fault began,
        // which after a failover is not the one the run asked for.
        let first_run = runs.iter().find(|r| group_of(&r.run_id) == group && r.measured());
        let in_use = first_run.map_or(clocksource, |r| r.clocksource_at(first.planned_start_ms as f64 / 1e3));
        let rule = first_run.map(|r| rule_of(&r.run_id)).unwrap_or_else(crate::predict::generic_rule);
        // One the model does not know (jiffies, tsc-early…) gets no prediction.
        let cs = Clocksource::from_kernel_name(in_use);
        let prediction = cs.and_then(|cs| crate::predict::predict(first.kind, achieved, cs, accel, &rule));
        // Which rule spoke: only a narrow counter's freeze depends on it.
        let model_rule =
            (cs.and_then(crate::predict::wrap_ns).is_some() && prediction.is_some() && first.kind != FaultKindName::Pause).then(|| rule.source.clone());
        let stopped_for_good = clock_stopped_for_good_runs > 0;
        if measured.is_empty() && !stopped_for_good {
            continue;
        }
        let lost_ns = if measured.is_empty() { 0.0 } else { measured.iter().map(|m| m.0).sum::<f64>() / measured.len() as f64 };
        let mut plus_minus_ns = measured.iter().map(|m| m.1).fold(0.0, f64::max);
        if let Ok(sample) = Sample::new(measured.iter().map(|m| m.0).collect()) {
            let ci = mean_ci(&sample, 0.95);
            plus_minus_ns = plus_minus_ns.max((ci.high - ci.low) / 2.0);
        }
        let tolerance = crate::predict::tolerance_ns(first.kind, achieved);
        let predicted_ns = match prediction {
            Some(Prediction::Lost(p)) => Some(p),
            _ => None,
        };
        let disagrees = match prediction {
            Some(Prediction::Lost(p)) => stopped_for_good || (lost_ns - p).abs() > tolerance + plus_minus_ns,
            Some(Prediction::ClockStops) => clock_stopped_for_good_runs < faults.len(),
            Some(Prediction::NearThreshold) | None => false,
        };
        let what = if measured.is_empty() {
            "stopped its clock for good".to_owned()
        } else if lost_ns.abs() < 1e6 + plus_minus_ns {
            format!("loses < {}", ns(1e6 + plus_minus_ns))
        } else {
            format!("loses {} ± {}", ns(lost_ns), ns(plus_minus_ns))
        };
        let said = |p: &Prediction| match p {
            Prediction::Lost(p) if *p == 0.0 => "nothing lost".to_owned(),
            Prediction::Lost(p) => ns(*p),
            Prediction::ClockStops => "the clock stops for good".to_owned(),
            Prediction::NearThreshold => "too near the kernel's threshold to say".to_owned(),
        };
        let by = model_rule.as_ref().map(|r| format!(", by {r}")).unwrap_or_default();
        let model = match &prediction {
            Some(p) if disagrees => format!("; the clock model predicts {}{by}: DISAGREES", said(p)),
            Some(p) => format!(" (model: {}{by})", said(p)),
            None => String::new(),
        };
        let sentence = format!(
            "{label} {what} per {} {} ({} run{}){model}{reactions}",
            ns(length_ms as f64 * 1e6),
            first.kind,
            faults.len(),
            if faults.len() == 1 { "" } else { "s" }
        );
        out.push(FaultVerdict {
            fault: index,
            kind: first.kind,
            length_ms,
            clocksource: clocksource.to_owned(),
            group: group.to_owned(),
            runs: measured.len(),
            lost_ns,
            plus_minus_ns,
            predicted_ns,
            predicts_clock_stop: prediction == Some(Prediction::ClockStops),
            model_rule,
            disagrees_with_model: disagrees,
            clock_stopped_runs,
            clock_stopped_for_good_runs,
            rt_throttled_runs: rt.len(),
            rt_throttled_max_ns: rt.iter().max().copied(),
            sentence,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    /// docs/report.schema.json is the schema of this code's model. After a
    /// change to the model: `CLOCKSTORM_UPDATE_SCHEMA=1 cargo test -p
    /// clockstorm-reports schema` rewrites it (bump REPORT_SCHEMA_VERSION
    /// when the change is incompatible).
    #[test]
    fn the_committed_schema_is_the_models() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.schema.json");
        let generated = serde_json::to_string_pretty(&super::schema()).unwrap() + "\n";
        if std::env::var_os("CLOCKSTORM_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == generated, "{} is stale: rerun with CLOCKSTORM_UPDATE_SCHEMA=1", path.display());
    }

    fn group(metric: &str, unit: &str, values: &[f64]) -> super::GroupStats {
        let sample = crate::stats::Sample::new(values.to_vec()).unwrap();
        super::GroupStats {
            group: "g".into(),
            metric: metric.into(),
            unit: unit.into(),
            mean: crate::stats::mean_ci(&sample, 0.95),
            median: crate::stats::median_bootstrap_ci(&sample, 0.95, 100, 1),
            values: values.to_vec(),
            floor: super::metric_floor(metric),
        }
    }

    #[test]
    fn a_cost_interval_stops_at_zero_and_says_so() {
        // Two runs 7 µs apart: the t interval (t = 12.7) reaches far below 0 ns.
        let g = group("read cost", "ns", &[2_000.0, 9_000.0]);
        assert!(g.mean.low < -30_000.0, "{:?}", g.mean);
        let (low, high, clipped) = g.shown_interval();
        assert_eq!((low, clipped), (0.0, true));
        assert_eq!(high, g.mean.high);
        let notes = g.interval_notes();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(notes[0], "2 runs: too few for the interval to mean much");
        assert_eq!(notes[1], "clipped at 0: read cost cannot be negative (the t interval reaches -39.0 µs)");
    }

    #[test]
    fn time_lost_may_be_negative_and_enough_runs_need_no_note() {
        let g = group("time lost, fault 0", "s", &[-0.001, 0.0005, -0.0002, 0.0001, 0.0003]);
        assert_eq!(g.floor, None);
        assert!(!g.shown_interval().2);
        assert!(g.interval_notes().is_empty(), "{:?}", g.interval_notes());
        let g = group("max gap", "ms", &[10.0, 10.5, 11.0, 10.2, 10.4]);
        assert!(!g.shown_interval().2, "a tight interval above 0 is not clipped");
    }

    #[test]
    fn a_report_has_the_fields_its_schema_requires() {
        let schema = super::schema();
        let report = serde_json::to_value(crate::fixtures::report()).unwrap();
        for field in schema["required"].as_array().unwrap() {
            assert!(report.get(field.as_str().unwrap()).is_some(), "{field}");
        }
        assert_eq!(schema["title"], "Report");
    }

    #[test]
    fn a_clocksource_the_model_does_not_know_gets_no_prediction() {
        let report = crate::fixtures::report();
        let hpet = |r: &super::Report| r.verdicts.iter().find(|v| v.clocksource == "hpet").map(|v| v.predicted_ns);
        assert_eq!(hpet(&report), Some(Some(0.0)));
        let mut runs = report.runs.clone();
        for run in runs.iter_mut().filter(|r| r.clocksource == "hpet") {
            run.switches.clear();
            run.clocksource_in_guest = Some("tsc-early".into());
        }
        let rebuilt = super::build(report.provenance.clone(), runs, vec![], vec![]);
        assert_eq!(hpet(&rebuilt), Some(None));
    }

    #[test]
    fn groups_drop_only_a_repetition_suffix() {
        assert_eq!(super::group_of("vf-reload-tsc.r3"), "vf-reload-tsc");
        assert_eq!(super::group_of("kci-tsc.debian-bullseye-cloud-amd64.r0"), "kci-tsc.debian-bullseye-cloud-amd64");
        assert_eq!(super::group_of("idle-tsc"), "idle-tsc");
        assert_eq!(super::group_of("x-tsc.rx"), "x-tsc.rx");
    }
}
