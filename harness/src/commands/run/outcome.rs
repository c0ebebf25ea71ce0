//! From a finished results directory to summaries and the exit code.

use clockstorm_protocol::{Manifest, RunOutcome, RunRecord};
use clockstorm_reports::gates::GateResult;
use clockstorm_reports::{summarize, RunSummary};

use crate::runner::ResultsDir;
use crate::{exit_code, signals};

/// Summaries of every run that has a record file, in manifest order.
pub fn summarize_results(results: &ResultsDir, manifest: &Manifest) -> Vec<RunSummary> {
    manifest
        .runs
        .iter()
        .filter_map(|run| {
            let text = std::fs::read_to_string(results.root().join(&run.dir).join("records.jsonl")).ok()?;
            // A crash can leave a half-written last line; every complete line counts.
            let records: Vec<RunRecord> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            let mut s = summarize(&records);
            if s.clocksource.is_empty() {
                s.clocksource = run.clocksource.clone();
                s.run_id = run.id.clone();
            }
            Some(s)
        })
        .collect()
}

/// The documented exit code: interrupted, then failed runs, then failed gates.
pub fn exit_code_for(manifest: &Manifest, gates: &[GateResult]) -> u8 {
    let outcomes: Vec<Option<&RunOutcome>> = manifest.runs.iter().map(|r| r.outcome.as_ref()).collect();
    if signals::interrupted() || outcomes.iter().any(|o| matches!(o, Some(RunOutcome::Interrupted))) {
        return exit_code::INTERRUPTED;
    }
    let bad = |o: &Option<&RunOutcome>| {
        matches!(o, None | Some(RunOutcome::Failed { .. }) | Some(RunOutcome::ClocksourceNotHonored { .. }))
    };
    if outcomes.iter().any(bad) {
        exit_code::RUN_FAILED
    } else if gates.iter().any(|g| !g.passed) {
        exit_code::GATE_FAILED
    } else {
        exit_code::SUCCESS
    }
}
