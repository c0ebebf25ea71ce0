//! Ctrl-C in the middle of each kind of fault, on the fake backend (its
//! vCPU threads are frozen, throttled, stopped and paused for real): the
//! fault is lifted, recorded as cut short, and nothing is left behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clockstorm_protocol::{HarnessEvent, RecordBody};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// Cgroups clockstorm made for the guest `pid` and did not remove (it names
/// them clockstorm-<pid>-*; other tests' cgroups run beside these).
fn leftover_cgroups(pid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["/sys/fs/cgroup/freezer", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&format!("clockstorm-{pid}-")) {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found
}

fn interrupt_mid_fault(fault: &str) -> (u32, std::process::Output, std::path::PathBuf) {
    let out = tempfile::tempdir().unwrap().keep();
    let child = Command::new(BIN)
        .args(["run", "idle", "--clocksource", "hpet", "--duration", "40s", "--fault", fault])
        .args(FAKE)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let path = records_path(&out, "idle-hpet");
    let deadline = Instant::now() + Duration::from_secs(30);
    let qemu = loop {
        let recs = records(&path);
        if recs.iter().any(|r| matches!(r.body, RecordBody::Harness(HarnessEvent::FaultStarted { .. }))) {
            break qemu_pid(&recs).unwrap();
        }
        assert!(Instant::now() < deadline, "fault never started: {recs:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let the fault take hold.
    std::thread::sleep(Duration::from_millis(500));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    (qemu, child.wait_with_output().unwrap(), out)
}

#[test]
fn ctrl_c_mid_fault_lifts_it_and_leaves_no_guest_cgroup_or_thread_behind() {
    for fault in ["vcpu-freeze:1s+30s", "freeze:1s+30s", "starve:1s+30s,duty=90,quota=20", "pause:1s+30s"] {
        let (qemu, o, out) = interrupt_mid_fault(fault);
        assert_eq!(o.status.code(), Some(130), "{fault}: {}", text(&o));
        assert!(!process_alive(qemu), "{fault}: the guest process {qemu} survived");
        assert_eq!(leftover_cgroups(qemu), Vec::<String>::new(), "{fault}");
        // The fault's end is recorded, marked as cut short.
        let recs = records(&records_path(Path::new(&out), "idle-hpet"));
        let ended = recs.iter().find_map(|r| match &r.body {
            RecordBody::Harness(HarnessEvent::FaultEnded(e)) => Some(e.clone()),
            _ => None,
        });
        let ended = ended.unwrap_or_else(|| panic!("{fault}: no FaultEnded in {recs:?}"));
        assert!(ended.error.as_deref().unwrap_or("").contains("interrupted"), "{fault}: {ended:?}");
        let _ = std::fs::remove_dir_all(&out);
    }
}
