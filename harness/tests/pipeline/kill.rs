//! SIGKILL of the harness in the middle of each fault: its guardian undoes
//! the fault within its bound, so no guest process, no cgroup and no frozen
//! thread is left. On the fake backend the faults are the real host
//! mechanisms (a freezer or cpu cgroup on the fake's vCPU thread, SIGSTOP of
//! the process, a QMP stop); the real-guest version is in `guests`.

use crate::support::*;

fn kill_mid_fault(fault: &str) {
    sigkill_mid_fault(&FAKE, fault);
}

#[test]
fn sigkill_mid_vcpu_freeze_leaves_nothing() {
    kill_mid_fault("vcpu-freeze:1s+15s");
}

#[test]
fn sigkill_mid_freeze_leaves_nothing() {
    kill_mid_fault("freeze:1s+15s");
}

#[test]
fn sigkill_mid_pause_leaves_nothing() {
    kill_mid_fault("pause:1s+15s");
}

#[test]
fn sigkill_mid_starve_with_quota_leaves_nothing() {
    kill_mid_fault("starve:1s+15s,duty=50,quota=20");
}

/// The soak's short version (the README's figure is `ci/soak.sh 100` on
/// real guests): random faults and interruptions, nothing left behind.
#[test]
fn a_short_soak_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(BIN)
        .args(["soak", "6", "--backend", "fake", "--seed", "31", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for line in [
        "guest processes left: 0",
        "cgroups left: 0",
        "frozen threads left: 0",
        "records files that do not parse: 0",
        "completed runs lost from the report: 0",
        "results dirs `clockstorm report` cannot read: 0",
        "harnesses that hung: 0",
    ] {
        assert!(t.contains(line), "{line:?} missing: {t}");
    }
    // Seed 31 interrupts every way the fake can be interrupted.
    for kind in ["SIGINT", "SIGTERM", "SIGKILL of the harness", "SIGKILL of the guest"] {
        assert!(t.contains(&format!("{kind} ")), "{kind} not in the soak: {t}");
    }
}
