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

/// A host command fault still running when the harness is killed is killed
/// by the guardian too ("nothing left running").
#[test]
fn sigkill_mid_host_command_leaves_no_command_running() {
    let out = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(BIN)
        .args(["run", "idle", "--clocksource", "tsc", "--duration", "20s", "--allow-commands", "--fault", "command:1s+0s,argv=/bin/sleep;27.5"])
        .args(FAKE)
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_fault(out.path(), "idle-tsc", 0, std::time::Duration::from_secs(30));
    // The command is the harness's child running `sleep 27.5`.
    let find = || {
        std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            (cmdline == b"/bin/sleep\x0027.5\x00").then_some(pid)
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let sleep = loop {
        if let Some(pid) = find() {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "the command never started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let killed = std::time::Instant::now();
    while process_holds_threads(sleep) && killed.elapsed() < KILL_BOUND {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert!(!process_holds_threads(sleep), "the host command {sleep} still runs: {}", text(&o));
}
