//! Ctrl-C mid-run: the first stops cleanly and keeps results, a second kills
//! at once; either way no guest process survives. On the fake backend: the
//! teardown is the pipeline's, whatever process the backend started.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockstorm_protocol::{GuestMessage, RecordBody, RunOutcome};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// The fake's first window comes within a second; generous for a loaded host.
const MEASURING_TIMEOUT: Duration = Duration::from_secs(30);

fn start_long_run(out: &Path) -> Child {
    Command::new(BIN)
        .args(["run", "idle", "--clocksource", "hpet", "--duration", "60s"])
        .args(FAKE)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the guest has sent at least one window; returns its pid.
fn wait_until_measuring(out: &Path) -> u32 {
    let path = records_path(out, "idle-hpet");
    let deadline = Instant::now() + MEASURING_TIMEOUT;
    loop {
        let recs = records(&path);
        if recs.iter().any(|r| matches!(r.body, RecordBody::Guest(GuestMessage::Window(_)))) {
            return qemu_pid(&recs).unwrap();
        }
        assert!(Instant::now() < deadline, "guest never started measuring: {recs:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn first_ctrl_c_stops_cleanly_keeps_results_and_leaves_nothing_running() {
    let out = tempfile::tempdir().unwrap();
    let child = start_long_run(out.path());
    let qemu = wait_until_measuring(out.path());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(!process_alive(qemu), "the guest process {qemu} survived");
    let recs = records(&records_path(out.path(), "idle-hpet"));
    assert_eq!(outcome(&recs), Some(RunOutcome::Interrupted));
    // What was measured before the interruption is kept and summarized.
    let s = &summaries(out.path())[0];
    assert_eq!(s.status, "interrupted");
    assert!(s.samples > 0, "{s:#?}");
    assert_eq!(manifest(out.path()).runs[0].outcome, Some(RunOutcome::Interrupted));
}

#[test]
fn second_ctrl_c_kills_at_once_and_leaves_nothing_running() {
    let out = tempfile::tempdir().unwrap();
    let child = start_long_run(out.path());
    let qemu = wait_until_measuring(out.path());
    let pid = Pid::from_raw(child.id() as i32);
    kill(pid, Signal::SIGINT).unwrap();
    kill(pid, Signal::SIGINT).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(qemu) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!process_alive(qemu), "the guest process {qemu} survived");
}
