//! The scenario commands, and the matrix machinery on the fake backend:
//! shard + merge equals one unsharded run, resume redoes only what did not
//! finish, jobs run at once on disjoint host CPUs.

use std::collections::BTreeSet;
use std::process::Command;

use clockstorm_protocol::RunOutcome;

use crate::support::*;

#[test]
fn scenario_validate_names_the_file_and_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = scenario_file(dir.path(), "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[probe]\nduraton = \"2s\"\n");
    let o = Command::new(BIN).args(["scenario", "validate", "vf-reload"]).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ok      vf-reload (8 runs)"), "{out}");
    assert!(out.contains("scenario.toml: TOML parse error at line 5"), "{out}");
}

#[test]
fn a_scenario_naming_a_missing_kernel_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_file(dir.path(), "name = \"x\"\ndescription = \"d\"\nclocksources = [\"tsc\"]\n[guest]\nkernels = [\"/nonexistent/bzImage\"]\n");
    let (_out, o) = clockstorm(&["run", s.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("guest.kernels[0] entry \"/nonexistent/bzImage\": kernel file /nonexistent/bzImage does not exist"), "{err}");
}

/// A small matrix (2 clocksources x 2 repetitions) in two shards, merged,
/// gives the same set of runs as the unsharded matrix.
#[test]
fn shard_and_merge_give_the_same_runs_as_one_run() {
    let common = ["run", "idle", "--clocksource", "tsc,acpi_pm", "--repetitions", "2", "--duration", "1s"];
    let ids = |dir: &std::path::Path| -> BTreeSet<String> { manifest(dir).runs.into_iter().map(|r| r.id).collect() };
    let mut shards = Vec::new();
    for k in ["1/2", "2/2"] {
        let mut args = common.to_vec();
        args.extend(["--shard", k]);
        let (out, o) = fake(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(manifest(out.path()).shard.as_deref(), Some(k));
        shards.push(out);
    }
    let merged = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["merge", "--out"])
        .arg(merged.path())
        .arg(shards[0].path())
        .arg(shards[1].path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let expected: BTreeSet<String> = ["idle-tsc.r0", "idle-tsc.r1", "idle-acpi_pm.r0", "idle-acpi_pm.r1"].iter().map(|s| s.to_string()).collect();
    assert_eq!(ids(merged.path()), expected);
    assert_eq!(ids(shards[0].path()).len() + ids(shards[1].path()).len(), 4, "each run in exactly one shard");
    assert_eq!(summaries(merged.path()).len(), 4);
    for id in &expected {
        assert!(merged.path().join("runs").join(id).join("records.jsonl").is_file(), "{id}");
    }
    // A shard of another scenario (another scenario hash) is refused, by name.
    let foreign = tempfile::tempdir().unwrap();
    let mut m = manifest(shards[1].path());
    m.scenario.sha256 = "0".repeat(64);
    std::fs::write(foreign.path().join("manifest.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let refused = Command::new(BIN)
        .args(["merge", "--out"])
        .arg(merged.path().join("again"))
        .arg(shards[0].path())
        .arg(foreign.path())
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("has scenario sha256 0000"), "{}", text(&refused));
    // A shard of another build is merged, with a warning and the builds in
    // the merged manifest; --refuse-mixed-builds refuses it.
    let other_build = tempfile::tempdir().unwrap();
    let mut m = manifest(shards[1].path());
    assert!(m.clockstorm_version.starts_with(&format!("{} (", env!("CARGO_PKG_VERSION"))), "the manifest names the build: {}", m.clockstorm_version);
    m.clockstorm_version = "0.0.9 (0000000 2026-01-01)".into();
    std::fs::write(other_build.path().join("manifest.json"), serde_json::to_string(&m).unwrap()).unwrap();
    let merge = |out: &str, extra: &[&str]| {
        Command::new(BIN)
            .args(["merge", "--out"])
            .arg(merged.path().join(out))
            .args(extra)
            .arg(shards[0].path())
            .arg(other_build.path())
            .output()
            .unwrap()
    };
    let mixed = merge("mixed", &[]);
    assert_eq!(mixed.status.code(), Some(0), "{}", text(&mixed));
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("warning: shards come from different builds"), "{}", text(&mixed));
    assert!(manifest(&merged.path().join("mixed")).clockstorm_version.starts_with("mixed builds: "));
    let refused = merge("refused", &["--refuse-mixed-builds"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    // A directory without a manifest is refused, naming the file.
    let missing = Command::new(BIN)
        .args(["merge", "--out"])
        .arg(merged.path().join("again2"))
        .arg(shards[0].path())
        .arg("/nonexistent")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/manifest.json"), "{}", text(&missing));
}

#[test]
fn resume_redoes_only_the_runs_that_did_not_finish() {
    let (out, o) = fake(&["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Pretend the second run was cut short.
    let path = out.path().join("manifest.json");
    let mut m = manifest(out.path());
    let victim = m.runs[1].id.clone();
    m.runs[1].outcome = None;
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    let o = Command::new(BIN)
        .args(["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s", "--resume"])
        .args(FAKE)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 run(s) of 2"), "{err}");
    assert!(err.contains(&victim), "{err}");
    assert!(manifest(out.path()).runs.iter().all(|r| matches!(r.outcome, Some(RunOutcome::Completed { .. }))));
}

#[test]
fn jobs_run_guests_at_once_on_disjoint_host_cpus_and_warn_when_oversubscribed() {
    let (out, o) = fake(&["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s", "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let host_cpus = std::thread::available_parallelism().unwrap().get();
    // Two 1-vCPU guests want ~4 host CPUs: this 2-CPU machine is oversubscribed.
    if host_cpus < 4 {
        assert!(err.contains("warning: 2 guests of 1 vCPU(s) want about 4 host CPUs"), "{err}");
    }
    // Each worker's guest process is pinned to its own CPUs.
    let pins: Vec<&str> = err.lines().filter_map(|l| l.split(" on host CPUs ").nth(1)).collect();
    assert_eq!(pins.len(), 2, "{err}");
    assert_ne!(pins[0], pins[1], "{err}");
    assert!(manifest(out.path()).runs.iter().all(|r| matches!(r.outcome, Some(RunOutcome::Completed { .. }))));
}
