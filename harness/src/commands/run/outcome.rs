//! From a finished results directory to summaries and the exit code.

use clockstorm_protocol::{Manifest, RunOutcome};
use clockstorm_reports::gates::GateResult;

use crate::{exit_code, signals};

/// The documented exit code: interrupted, then failed runs, then failed gates.
pub fn exit_code_for(manifest: &Manifest, gates: &[GateResult]) -> u8 {
    let outcomes: Vec<Option<&RunOutcome>> = manifest.runs.iter().map(|r| r.outcome.as_ref()).collect();
    if signals::interrupted() || outcomes.iter().any(|o| matches!(o, Some(RunOutcome::Interrupted))) {
        return exit_code::INTERRUPTED;
    }
    let bad = |o: &Option<&RunOutcome>| matches!(o, None | Some(RunOutcome::Failed { .. }) | Some(RunOutcome::ClocksourceNotHonored { .. }));
    if outcomes.iter().any(bad) {
        exit_code::RUN_FAILED
    } else if gates.iter().any(|g| !g.passed) {
        exit_code::GATE_FAILED
    } else {
        exit_code::SUCCESS
    }
}
