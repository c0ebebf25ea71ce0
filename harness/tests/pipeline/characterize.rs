//! `characterize` on the fake backend with a rule no real kernel has
//! (refusing above 0.3 of a wrap): the bisection finds it, keeps the
//! profile in the kernel cache, and a later run's model predicts by it.

use std::process::Command;

use clockstorm_protocol::{ClockProfile, FreezeOutcome};
use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

use crate::support::*;

#[test]
fn characterize_finds_a_made_up_rule_and_the_next_run_predicts_by_it() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(BIN).args(args).env("CLOCKSTORM_CACHE", cache.path()).output().unwrap();
    let o = run(&[
        "characterize",
        "--backend",
        "fake",
        "--fake-model",
        "refuse-above=0.3",
        "--kernel",
        "made-up",
        "--from",
        "1s",
        "--to",
        "2s",
        "--freezes-per-guest",
        "3",
        "--max-guests",
        "2",
        "--resolution",
        "100ms",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let kept = cache.path().join("kernels/profiles/made-up-fake/clock-profile-acpi_pm.json");
    let p: ClockProfile = serde_json::from_str(&std::fs::read_to_string(&kept).expect("kept in the cache")).unwrap();
    assert_eq!(p, serde_json::from_str::<ClockProfile>(&std::fs::read_to_string(out.path().join("profile.json")).unwrap()).unwrap());
    assert_eq!((p.measured_by.backend.as_str(), p.measured_by.guests), ("fake", 2));
    let b = &p.boundaries;
    assert_eq!(b.len(), 1, "{b:#?}");
    assert_eq!((b[0].below, b[0].above), (FreezeOutcome::WrapsLost { wraps: 0 }, FreezeOutcome::WrapsLost { wraps: 1 }));
    assert!(b[0].resolved && (b[0].at_ns as f64 - 0.3 * ACPI_PM_WRAP_NS).abs() <= b[0].plus_minus_ns as f64, "{b:#?}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("time kept -> one wrap lost at") && stdout.contains("then the clock waits for the next wrap"), "{stdout}");

    // 1.8 s is 0.38 of a wrap: this kernel loses one, the generic rule nothing.
    let run_out = tempfile::tempdir().unwrap();
    let o = run(&[
        "run",
        "idle",
        "--backend",
        "fake",
        "--fake-model",
        "refuse-above=0.3",
        "--kernel",
        "made-up",
        "--clocksource",
        "acpi_pm",
        "--duration",
        "6s",
        "--fault",
        "freeze:1s+1800ms",
        "--out",
        run_out.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = manifest(run_out.path());
    assert!(m.kernels[0].clock_rule.as_ref().is_some_and(|r| r.source.contains("the profile of made-up-fake")), "{:?}", m.kernels);
    let report: clockstorm_reports::model::Report = serde_json::from_str(&std::fs::read_to_string(run_out.path().join("report.json")).unwrap()).unwrap();
    let v = &report.verdicts[0];
    assert!(!v.disagrees_with_model && v.predicted_ns.is_some_and(|p| (p - ACPI_PM_WRAP_NS).abs() < 1e6), "{}", v.sentence);
    assert!(v.sentence.contains("by the profile of made-up-fake on acpi_pm"), "{}", v.sentence);
}

#[test]
fn characterize_refuses_a_clocksource_that_does_not_wrap_and_a_bad_range() {
    for (args, names) in
        [(vec!["--clocksource", "tsc"], "tsc does not wrap"), (vec!["--from", "3s", "--to", "2s"], "--to"), (vec!["--resolution", "5ms"], "--resolution")]
    {
        let mut all = vec!["characterize", "--backend", "fake"];
        all.extend(args);
        let o = Command::new(BIN).args(&all).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(names), "{}", text(&o));
    }
}

#[test]
fn characterize_names_a_kernel_that_is_not_in_the_cache_before_writing_anything() {
    let cache = tempfile::tempdir().unwrap();
    let out = cache.path().join("out");
    let o = Command::new(BIN)
        .args(["characterize", "--kernel", "no-such-kernel", "--out", out.to_str().unwrap()])
        .env("CLOCKSTORM_CACHE", cache.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"no-such-kernel\" not found"), "{}", text(&o));
    assert!(!out.exists(), "nothing written");
}
