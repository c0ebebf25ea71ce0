//! Scenarios end to end: every shipped one runs (shortened) on a real guest;
//! the scenario commands; shard + merge equals one unsharded run.

use std::collections::BTreeSet;
use std::process::Command;

use clockstorm_protocol::RunOutcome;

use crate::support::*;

/// Each shipped scenario, shortened: one clocksource (kernel-ci keeps its
/// three kernels), and the timeline cut to its first fault at 1 s for 2 s,
/// so the whole set runs in about two minutes.
#[test]
fn every_shipped_scenario_runs_shortened_on_a_real_guest() {
    let list = Command::new(BIN).args(["scenario", "list"]).output().unwrap();
    assert!(list.status.success(), "{}", text(&list));
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout).lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect();
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let show = Command::new(BIN).args(["scenario", "show", name]).output().unwrap();
        assert!(show.status.success(), "{}", text(&show));
        let shown = String::from_utf8_lossy(&show.stdout).into_owned();
        let first_fault_kind = shown.lines().skip_while(|l| !l.starts_with("faults")).nth(1).and_then(|l| l.split_whitespace().nth(1)).map(str::to_owned);
        // failover is about leaving tsc: it keeps its clocksource.
        let clocksource = if name == "failover" { "tsc" } else { "hpet" };
        let mut args: Vec<String> =
            vec!["run".into(), name.clone(), "--clocksource".into(), clocksource.into(), "--duration".into(), "4s".into(), "--repetitions".into(), "1".into()];
        if let Some(kind) = &first_fault_kind {
            let fault = match kind.as_str() {
                "starve" => "starve:1s+2s,duty=80".to_owned(),
                other => format!("{other}:1s+2s"),
            };
            args.extend(["--fault".into(), fault]);
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (out, o) = clockstorm(&argv);
        assert!(matches!(o.status.code(), Some(0) | Some(3)), "{name}: {}", text(&o));
        let m = manifest(out.path());
        assert!(!m.runs.is_empty(), "{name}");
        for run in &m.runs {
            assert!(matches!(run.outcome, Some(RunOutcome::Completed { .. })), "{name}: {run:?}\n{}", text(&o));
        }
        if name == "kernel-ci" {
            let releases: BTreeSet<&str> = m.kernels.iter().map(|k| k.release.as_str()).collect();
            assert_eq!(releases.len(), 3, "three kernel generations: {releases:?}");
            assert!(out.path().join("gates.json").is_file());
        }
        if name == "failover" {
            // tsc was unbound inside the guest: every run ended elsewhere.
            for s in summaries(out.path()) {
                assert!(!s.clocksource_changes.is_empty(), "{name}: {s:#?}");
                // What the switch cost is measured: unbinding a clocksource
                // that keeps time costs nothing beyond the exchanges' bound.
                let w = &s.switches[0];
                let (step, bound) = (w.offset_step_ns.expect("exchanges around the switch"), w.uncertainty_ns.unwrap());
                assert!(step.abs() <= bound + 10_000_000, "{name}: {w:?}");
                assert!(s.actions.iter().all(|a| a.contains("ok")), "{name}: {:?}", s.actions);
            }
        }
    }
}

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
    assert!(err.contains("guest.kernels entry \"/nonexistent/bzImage\""), "{err}");
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
        let (out, o) = clockstorm(&args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert_eq!(manifest(out.path()).shard.as_deref(), Some(k));
        shards.push(out);
    }
    let merged = tempfile::tempdir().unwrap();
    let o = Command::new(BIN).args(["merge", "--out"]).arg(merged.path()).arg(shards[0].path()).arg(shards[1].path()).output().unwrap();
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
    let refused = Command::new(BIN).args(["merge", "--out"]).arg(merged.path().join("again")).arg(shards[0].path()).arg(foreign.path()).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("has scenario sha256 0000"), "{}", text(&refused));
    // A directory without a manifest is refused, naming the file.
    let missing = Command::new(BIN).args(["merge", "--out"]).arg(merged.path().join("again2")).arg(shards[0].path()).arg("/nonexistent").output().unwrap();
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/manifest.json"), "{}", text(&missing));
}

#[test]
fn resume_redoes_only_the_runs_that_did_not_finish() {
    let (out, o) = clockstorm(&["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Pretend the second run was cut short.
    let path = out.path().join("manifest.json");
    let mut m = manifest(out.path());
    let victim = m.runs[1].id.clone();
    m.runs[1].outcome = None;
    std::fs::write(&path, serde_json::to_string(&m).unwrap()).unwrap();
    let o = Command::new(BIN)
        .args(["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s", "--resume", "--out"])
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
    let (out, o) = clockstorm(&["run", "idle", "--clocksource", "tsc,hpet", "--duration", "1s", "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let host_cpus = std::thread::available_parallelism().unwrap().get();
    // Two 1-vCPU guests want ~4 host CPUs: this 2-CPU machine is oversubscribed.
    if host_cpus < 4 {
        assert!(err.contains("warning: 2 guests of 1 vCPU(s) want about 4 host CPUs"), "{err}");
    }
    // Each worker's QEMU is pinned to its own CPUs.
    let pins: Vec<&str> = err.lines().filter_map(|l| l.split(" on host CPUs ").nth(1)).collect();
    assert_eq!(pins.len(), 2, "{err}");
    assert_ne!(pins[0], pins[1], "{err}");
    assert!(manifest(out.path()).runs.iter().all(|r| matches!(r.outcome, Some(RunOutcome::Completed { .. }))));
}
