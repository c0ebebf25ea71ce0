//! The results directory's manifest: written before the first guest boots,
//! rewritten after each run, and read back by `--resume`.

use clockstorm_protocol::{Manifest, ManifestRun, QemuInfo, RunOutcome, ScenarioInfo, MANIFEST_VERSION};
use sha2::{Digest, Sha256};

use super::super::time_text::unix_ms_now;
use crate::host::kernels;
use crate::host::resources::HostResources;
use crate::initramfs::hex;
use crate::plan::{RunPlan, RunSpec};
use crate::results::ResultsDir;

/// The scenario text's hash, which `--resume` compares.
pub fn scenario_sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The manifest before any run: every run of the plan, no outcomes yet.
pub fn initial(plan: &RunPlan, host: &HostResources, specs: &[RunSpec]) -> Manifest {
    let qemu = match &host.qemu {
        Some(q) => QemuInfo { path: q.display().to_string(), version: crate::host::qemu_version(q) },
        None => QemuInfo { path: String::new(), version: format!("none: the {} backend", host.backend.kind()) },
    };
    Manifest {
        manifest_version: MANIFEST_VERSION,
        clockstorm_version: crate::build_info::VERSION.into(),
        command_line: plan.command_line.clone(),
        scenario: ScenarioInfo { name: plan.scenario.name.clone(), origin: plan.loaded.origin.clone(), sha256: scenario_sha256(&plan.loaded.text) },
        seed: plan.scenario.seed,
        shard: plan.shard.map(|s| format!("{}/{}", s.index, s.count)),
        accel: host.accel,
        qemu,
        kernels: host.kernels.values().map(|k| kernels::info(k)).collect(),
        host: crate::host::host_info(),
        started_at_unix_ms: unix_ms_now(),
        finished_at_unix_ms: None,
        runs: specs
            .iter()
            .map(|s| ManifestRun {
                id: s.id.clone(),
                clocksource: s.clocksource,
                kernel: s.kernel.name.clone(),
                variant: s.variant.clone(),
                repetition: s.repetition,
                dir: ResultsDir::run_dir_name(&s.id),
                outcome: None,
                time_service: s.guest.time_service.enabled().then(|| {
                    let version = host.chrony.as_ref().map(|c| format!(", {}", c.version)).unwrap_or_default();
                    format!("{}{version}", s.guest.time_service.describe())
                }),
            })
            .collect(),
        standalone: None,
    }
}

/// Whether a finished run needs no redo on `--resume`: a guest whose clock
/// stopped or that went silent is a finding, kept like a completed run.
fn is_done(o: &Option<RunOutcome>) -> bool {
    matches!(
        o,
        Some(
            RunOutcome::Completed { .. }
                | RunOutcome::Skipped { .. }
                | RunOutcome::ClocksourceNotHonored { .. }
                | RunOutcome::ClockStopped { .. }
                | RunOutcome::Silent { .. }
        )
    )
}

/// `--resume`: takes the outcomes of the runs `old` (the earlier manifest,
/// checked by the plan) finished, removes what unfinished attempts left, and
/// returns the ids still to run (incomplete, failed or interrupted).
pub fn resume(results: &ResultsDir, old: &Manifest, manifest: &mut Manifest) -> Vec<String> {
    let mut todo = Vec::new();
    for run in &mut manifest.runs {
        match old.runs.iter().find(|o| o.id == run.id) {
            Some(o) if is_done(&o.outcome) => run.outcome = o.outcome.clone(),
            _ => {
                // Redone from scratch: what an interrupted attempt left goes.
                let _ = results.run_at(&run.dir).remove();
                todo.push(run.id.clone());
            }
        }
    }
    manifest.started_at_unix_ms = old.started_at_unix_ms;
    todo
}
