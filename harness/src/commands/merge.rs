//! `clockstorm merge --out DIR SHARD...`: joins the results directories of
//! the shards of one matrix into one, refusing shards of different
//! scenarios or seeds. Shards of different builds (another commit, a dirty
//! tree, another release) are merged with a warning, on stderr and in the
//! merged manifest's `clockstorm_version`, unless `--refuse-mixed-builds`:
//! each run's records describe themselves and this build analyses them
//! all alike, and a CI pipeline that re-ran one shard after a push still
//! wants its results merged; what differs is how the runs were measured,
//! which the reader of the report must be told.

use std::path::{Path, PathBuf};

use clockstorm_protocol::Manifest;
use clockstorm_reports::gates::GateResult;

use crate::error::Error;
use crate::results::ResultsDir;

pub fn run(out: &Path, shards: &[PathBuf], refuse_mixed_builds: bool) -> Result<u8, Error> {
    let manifests = shards.iter().map(|d| read_manifest(d)).collect::<Result<Vec<_>, _>>()?;
    let mut merged = merge_manifests(&manifests, shards)?;
    if let Some(mixed) = mixed_builds(&manifests, shards) {
        if refuse_mixed_builds {
            return Err(Error::BadArgument { what: "SHARDS", message: format!("{}: --refuse-mixed-builds", mixed.sentence) });
        }
        crate::output::warn(&format!("{}; merged anyway (the merged manifest's clockstorm_version lists them)", mixed.sentence));
        merged.clockstorm_version = mixed.recorded;
    }
    let results = ResultsDir::create(out).map_err(|source| Error::OutputNotWritable { path: out.to_owned(), source })?;
    for (manifest, dir) in manifests.iter().zip(shards) {
        for run in &manifest.runs {
            let (from, to) = (ResultsDir::open(dir).run_at(&run.dir), results.run_at(&run.dir));
            if from.dir().is_dir() {
                copy_dir(from.dir(), to.dir()).map_err(|source| Error::OutputNotWritable { path: to.dir().to_owned(), source })?;
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
    ResultsDir::open(dir).read_manifest().map_err(|e| Error::BadResultsDir { path: dir.to_owned(), message: e.to_string() })
}

/// One manifest for all shards. Pure.
pub fn merge_manifests(manifests: &[Manifest], dirs: &[PathBuf]) -> Result<Manifest, Error> {
    let Some(first) = manifests.first() else {
        return Err(Error::BadArgument { what: "SHARDS", message: "name at least one results directory".into() });
    };
    let mut merged = first.clone();
    merged.shard = None;
    merged.runs.clear();
    merged.kernels.clear();
    for (m, dir) in manifests.iter().zip(dirs) {
        let differs = |what: &str, a: &str, b: &str| Error::BadResultsDir {
            path: dir.clone(),
            message: format!("has {what} {b}, {} has {a}: not shards of one matrix", dirs[0].display()),
        };
        if m.scenario.sha256 != first.scenario.sha256 {
            return Err(differs("scenario sha256", &first.scenario.sha256, &m.scenario.sha256));
        }
        if m.seed != first.seed {
            return Err(differs("seed", &first.seed.to_string(), &m.seed.to_string()));
        }
        for run in &m.runs {
            if merged.runs.iter().any(|r| r.id == run.id) {
                return Err(Error::BadResultsDir { path: dir.clone(), message: format!("run {} appears in more than one shard", run.id) });
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

/// Shards of more than one build, named for stderr and for the merged
/// manifest.
#[derive(Debug, PartialEq)]
pub struct MixedBuilds {
    /// `shards come from different builds: shard-a 0.1.0 (abc1234 …), shard-b …`.
    pub sentence: String,
    /// `mixed builds: 0.1.0 (abc1234 …) in shard-a; …`: the merged manifest's version.
    pub recorded: String,
}

/// Whether the shards come from different builds, or from builds that do
/// not name their commit (so nobody can tell). Pure.
pub fn mixed_builds(manifests: &[Manifest], dirs: &[PathBuf]) -> Option<MixedBuilds> {
    let versions: Vec<&str> = manifests.iter().map(|m| m.clockstorm_version.as_str()).collect();
    let differ = versions.iter().any(|v| *v != versions[0]);
    let unnamed = manifests.len() > 1 && versions.iter().any(|v| !crate::build_info::names_a_commit(v));
    if !differ && !unnamed {
        return None;
    }
    let each = |sep: &str| dirs.iter().zip(&versions).map(|(d, v)| format!("{}{sep}{v}", d.display())).collect::<Vec<_>>().join(", ");
    let sentence = if differ {
        format!("shards come from different builds: {}", each(" "))
    } else {
        format!("the shards' builds do not name their commit ({}): whether they are one build cannot be told", versions[0])
    };
    let recorded = if differ {
        format!("mixed builds: {}", dirs.iter().zip(&versions).map(|(d, v)| format!("{v} in {}", d.display())).collect::<Vec<_>>().join("; "))
    } else {
        versions[0].to_owned()
    };
    Some(MixedBuilds { sentence, recorded })
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

#[cfg(test)]
mod tests {
    use clockstorm_protocol::{Accel, Clocksource, HostInfo, ManifestRun, QemuInfo, ScenarioInfo, MANIFEST_VERSION};

    use super::*;
    use crate::exit_code;

    fn manifest(seed: u64, run_ids: &[&str]) -> Manifest {
        Manifest {
            manifest_version: MANIFEST_VERSION,
            clockstorm_version: "0.1.0".into(),
            command_line: vec![],
            scenario: ScenarioInfo { name: "s".into(), origin: "shipped scenario s".into(), sha256: "ab".into() },
            seed,
            shard: None,
            accel: Accel::Tcg,
            qemu: QemuInfo { path: String::new(), version: String::new() },
            kernels: vec![],
            host: HostInfo { kernel_release: String::new(), clocksource: "tsc".into(), cpu_model: String::new(), cpu_flags: vec![], cpus: 1 },
            started_at_unix_ms: 0,
            finished_at_unix_ms: None,
            runs: run_ids
                .iter()
                .map(|id| ManifestRun {
                    id: (*id).into(),
                    clocksource: Clocksource::Tsc,
                    kernel: "default".into(),
                    variant: String::new(),
                    repetition: 0,
                    dir: format!("runs/{id}"),
                    outcome: None,
                    time_service: None,
                })
                .collect(),
            standalone: None,
        }
    }

    #[test]
    fn a_directory_without_a_manifest_is_named_not_a_flag() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_manifest(dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), exit_code::USAGE);
        let text = e.to_string();
        let prefix = format!("results directory {}: cannot read {}: ", dir.path().display(), dir.path().join("manifest.json").display());
        assert!(text.starts_with(&prefix), "{text}");
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        let text = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(text.starts_with(&format!("results directory {}: ", dir.path().display())), "{text}");
        assert!(text.contains("is not a clockstorm manifest"), "{text}");
        assert!(!text.contains("--merge"), "{text}");
    }

    #[test]
    fn shards_that_do_not_fit_name_the_directory_that_differs() {
        let dirs = [PathBuf::from("shard-a"), PathBuf::from("shard-b")];
        let e = merge_manifests(&[manifest(1, &["x"]), manifest(2, &["y"])], &dirs).unwrap_err();
        assert_eq!(e.exit_code(), exit_code::USAGE);
        assert_eq!(e.to_string(), "results directory shard-b: has seed 2, shard-a has 1: not shards of one matrix");
        let e = merge_manifests(&[manifest(1, &["x"]), manifest(1, &["x"])], &dirs).unwrap_err();
        assert_eq!(e.to_string(), "results directory shard-b: run x appears in more than one shard");
        let e = merge_manifests(&[], &[]).unwrap_err();
        assert_eq!((e.exit_code(), e.to_string()), (exit_code::USAGE, "SHARDS: name at least one results directory".to_owned()));
        let merged = merge_manifests(&[manifest(1, &["y"]), manifest(1, &["x"])], &dirs).unwrap();
        assert_eq!(merged.runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn shards_of_different_builds_merge_and_are_named() {
        let dirs = [PathBuf::from("shard-a"), PathBuf::from("shard-b")];
        let build = |v: &str, id: &str| Manifest { clockstorm_version: v.into(), ..manifest(1, &[id]) };
        let same = [build("0.1.0 (abc1234 2026-12-01)", "x"), build("0.1.0 (abc1234 2026-12-01)", "y")];
        assert_eq!(mixed_builds(&same, &dirs), None);
        let mixed = [build("0.1.0 (abc1234 2026-12-01)", "x"), build("0.1.0 (def5678-dirty 2026-12-02)", "y")];
        assert!(merge_manifests(&mixed, &dirs).is_ok(), "a different build is no reason to refuse");
        let m = mixed_builds(&mixed, &dirs).unwrap();
        assert_eq!(m.sentence, "shards come from different builds: shard-a 0.1.0 (abc1234 2026-12-01), shard-b 0.1.0 (def5678-dirty 2026-12-02)");
        assert_eq!(m.recorded, "mixed builds: 0.1.0 (abc1234 2026-12-01) in shard-a; 0.1.0 (def5678-dirty 2026-12-02) in shard-b");
        // Manifests of builds before the commit was recorded, or outside git: nobody can tell.
        let old = [build("0.1.0", "x"), build("0.1.0", "y")];
        assert!(mixed_builds(&old, &dirs).unwrap().sentence.contains("cannot be told"));
        assert_eq!(mixed_builds(&old[..1], &dirs[..1]), None, "one shard is one build");
    }
}
