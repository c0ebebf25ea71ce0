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
