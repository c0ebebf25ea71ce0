//! The results directory's manifest: written before the first guest boots,
//! rewritten after each run, and read back by `--resume`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use clockstorm_protocol::{Manifest, ManifestRun, QemuInfo, RunOutcome, ScenarioInfo, MANIFEST_VERSION};
use sha2::{Digest, Sha256};

use super::kernels;
use super::super::time_text::unix_ms_now;
use crate::error::Error;
use crate::initramfs::hex;
use crate::qemu::accel::Accel;
use crate::runner::{KernelSetup, ResultsDir, RunSpec};
use crate::scenario::matrix::Shard;
use crate::scenario::{LoadedScenario, Scenario};

#[allow(clippy::too_many_arguments)]
pub fn initial(
    loaded: &LoadedScenario,
    scenario: &Scenario,
    specs: &[RunSpec],
    kernel_setups: &BTreeMap<String, Arc<KernelSetup>>,
    accel: Accel,
    qemu: &Path,
    shard: Option<Shard>,
    argv: &[String],
) -> Manifest {
    Manifest {
        manifest_version: MANIFEST_VERSION,
        clockstorm_version: env!("CARGO_PKG_VERSION").into(),
        command_line: argv.to_vec(),
        scenario: ScenarioInfo {
            name: scenario.name.clone(),
            origin: loaded.origin.clone(),
            sha256: hex(&Sha256::digest(loaded.text.as_bytes())),
        },
        seed: scenario.seed,
        shard: shard.map(|s| format!("{}/{}", s.index, s.count)),
        accel: accel.to_string(),
        qemu: QemuInfo { path: qemu.display().to_string(), version: crate::host::qemu_version(qemu) },
        kernels: kernel_setups.values().map(|k| kernels::info(k)).collect(),
        host: crate::host::host_info(),
        started_at_unix_ms: unix_ms_now(),
        finished_at_unix_ms: None,
        runs: specs
            .iter()
            .map(|s| ManifestRun {
                id: s.id.clone(),
                clocksource: s.clocksource.kernel_name().into(),
                kernel: s.kernel.name.clone(),
                variant: s.variant.clone(),
                repetition: s.repetition,
                dir: format!("{}/{}", crate::runner::RUNS_DIR, s.id),
                outcome: None,
            })
            .collect(),
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

/// `--resume`: takes the outcomes of the runs the earlier manifest finished,
/// and returns the ids still to run (incomplete, failed or interrupted).
/// Refuses a directory made by another scenario, seed or shard.
pub fn resume(results: &ResultsDir, manifest: &mut Manifest) -> Result<Vec<String>, Error> {
    let path = results.root().join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::BadFlag { flag: "resume", message: format!("cannot read {}: {e}", path.display()) })?;
    let old: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::BadFlag { flag: "resume", message: format!("{} is not a clockstorm manifest: {e}", path.display()) })?;
    let same = old.scenario.sha256 == manifest.scenario.sha256 && old.seed == manifest.seed && old.shard == manifest.shard;
    if !same {
        return Err(Error::BadFlag {
            flag: "resume",
            message: format!("{} holds scenario {} (sha256 {}), seed {}, shard {:?}: not this run", results.root().display(), old.scenario.name, old.scenario.sha256, old.seed, old.shard),
        });
    }
    let mut todo = Vec::new();
    for run in &mut manifest.runs {
        match old.runs.iter().find(|o| o.id == run.id) {
            Some(o) if is_done(&o.outcome) => run.outcome = o.outcome.clone(),
            _ => {
                // Redone from scratch: what an interrupted attempt left goes.
                let _ = std::fs::remove_dir_all(results.root().join(&run.dir));
                todo.push(run.id.clone());
            }
        }
    }
    manifest.started_at_unix_ms = old.started_at_unix_ms;
    Ok(todo)
}
