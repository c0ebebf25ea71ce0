//! `clockstorm merge --out DIR SHARD...`: joins the results directories of
//! the shards of one matrix into one, refusing shards of different
//! scenarios, seeds or clockstorm versions.

use std::path::{Path, PathBuf};

use clockstorm_protocol::Manifest;
use clockstorm_reports::gates::GateResult;

use crate::error::Error;
use crate::runner::ResultsDir;

pub fn run(out: &Path, shards: &[PathBuf]) -> Result<u8, Error> {
    let manifests = shards.iter().map(|d| read_manifest(d)).collect::<Result<Vec<_>, _>>()?;
    let merged = merge_manifests(&manifests, shards)?;
    let results = ResultsDir::create(out).map_err(|source| Error::OutputNotWritable { path: out.to_owned(), source })?;
    for (manifest, dir) in manifests.iter().zip(shards) {
        for run in &manifest.runs {
            let from = dir.join(&run.dir);
            if from.is_dir() {
                copy_dir(&from, &results.root().join(&run.dir))
                    .map_err(|source| Error::OutputNotWritable { path: results.root().join(&run.dir), source })?;
            }
        }
    }
    results.write_manifest(&merged)?;
    // Each shard evaluated the scenario's gates on its own runs; together
    // they are the merged matrix's gate results.
    let gates: Vec<GateResult> = shards.iter().flat_map(|d| crate::analysis::read_gates(d)).collect();
    let analysis = crate::analysis::analyze(&results, &merged);
    let report = crate::analysis::write_reports(&results, &merged, analysis, gates)?;
    let (summaries, gates) = (&report.runs, &report.gates);
    println!("{}", clockstorm_reports::terminal::render(summaries));
    if !gates.is_empty() {
        println!("{}", clockstorm_reports::terminal::render_gates(gates));
    }
    println!("merged {} shard(s), {} run(s): {}", shards.len(), merged.runs.len(), results.root().display());
    Ok(super::run::exit_code_for(&merged, gates))
}

fn read_manifest(dir: &Path) -> Result<Manifest, Error> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::BadFlag { flag: "merge", message: format!("cannot read {}: {e}", path.display()) })?;
    serde_json::from_str(&text).map_err(|e| Error::BadFlag { flag: "merge", message: format!("{} is not a clockstorm manifest: {e}", path.display()) })
}

/// One manifest for all shards. Pure.
pub fn merge_manifests(manifests: &[Manifest], dirs: &[PathBuf]) -> Result<Manifest, Error> {
    let Some(first) = manifests.first() else {
        return Err(Error::BadFlag { flag: "merge", message: "name at least one results directory".into() });
    };
    let mut merged = first.clone();
    merged.shard = None;
    merged.runs.clear();
    merged.kernels.clear();
    for (m, dir) in manifests.iter().zip(dirs) {
        let differs = |what: &str, a: &str, b: &str| Error::BadFlag {
            flag: "merge",
            message: format!("{} has {what} {b}, {} has {a}: not shards of one matrix", dir.display(), dirs[0].display()),
        };
        if m.scenario.sha256 != first.scenario.sha256 {
            return Err(differs("scenario sha256", &first.scenario.sha256, &m.scenario.sha256));
        }
        if m.seed != first.seed {
            return Err(differs("seed", &first.seed.to_string(), &m.seed.to_string()));
        }
        if m.clockstorm_version != first.clockstorm_version {
            return Err(differs("clockstorm version", &first.clockstorm_version, &m.clockstorm_version));
        }
        for run in &m.runs {
            if merged.runs.iter().any(|r| r.id == run.id) {
                return Err(Error::BadFlag { flag: "merge", message: format!("run {} appears in more than one shard", run.id) });
            }
            merged.runs.push(run.clone());
        }
        for k in &m.kernels {
            if !merged.kernels.iter().any(|x| x.name == k.name && x.sha256 == k.sha256) {
                merged.kernels.push(k.clone());
            }
        }
        merged.started_at_unix_ms = merged.started_at_unix_ms.min(m.started_at_unix_ms);
        merged.finished_at_unix_ms = merged.finished_at_unix_ms.max(m.finished_at_unix_ms);
    }
    merged.runs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(merged)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
