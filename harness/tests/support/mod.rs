//! Running the real binary and reading what it left on disk. Shared by the
//! `guests` and `pipeline` test binaries (not every helper is used by both).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clockstorm_protocol::{HarnessEvent, Manifest, RecordBody, RunOutcome, RunRecord};
use clockstorm_reports::RunSummary;

pub const BIN: &str = env!("CARGO_BIN_EXE_clockstorm");

/// The flags that put a run on the fake backend.
pub const FAKE: [&str; 2] = ["--backend", "fake"];

/// `clockstorm ARGS --backend fake` with a fresh results directory.
pub fn fake(args: &[&str]) -> (tempfile::TempDir, Output) {
    let mut all = args.to_vec();
    all.extend(FAKE);
    clockstorm(&all)
}

/// `clockstorm ARGS` with a fresh results directory; returns it and the output.
pub fn clockstorm(args: &[&str]) -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--out").arg(out.path());
    let output = cmd.output().expect("running clockstorm");
    (out, output)
}

/// Text of stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}\n--- stderr\n{}", o.status.code(), String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn summaries(dir: &Path) -> Vec<RunSummary> {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).unwrap()
}

pub fn manifest(dir: &Path) -> Manifest {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json")).unwrap()
}

pub fn records(path: &Path) -> Vec<RunRecord> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

pub fn records_path(dir: &Path, run_id: &str) -> PathBuf {
    dir.join("runs").join(run_id).join("records.jsonl")
}

/// The guest process's pid a run recorded (QEMU, or the fake guest).
pub fn qemu_pid(records: &[RunRecord]) -> Option<u32> {
    records.iter().find_map(|r| match r.body {
        RecordBody::Harness(HarnessEvent::QemuSpawned { pid }) => Some(pid),
        _ => None,
    })
}

/// The run's final outcome, from its last record.
pub fn outcome(records: &[RunRecord]) -> Option<RunOutcome> {
    records.iter().rev().find_map(|r| match &r.body {
        RecordBody::Harness(HarnessEvent::RunFinished(o)) => Some(o.clone()),
        _ => None,
    })
}

/// True while a process with this pid exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// A scenario file in a temp dir.
pub fn scenario_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("scenario.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// True while any thread of `pid` is not a zombie: a process whose main
/// thread exited but whose vCPU thread sits in a frozen cgroup still holds
/// its memory, and [`process_alive`] would call it dead.
pub fn process_holds_threads(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .map(|stat| !matches!(stat.rsplit(')').next().unwrap_or("").trim_start().chars().next(), Some('Z' | 'X')))
            .unwrap_or(false)
    })
}

/// clockstorm cgroups named for `pid` (`clockstorm-<pid>-*`) anywhere in the
/// host's cgroup tree (v1: under each controller; v2: at any depth).
pub fn cgroups_of(pid: u32) -> Vec<PathBuf> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth == 0 {
            return;
        }
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    out.push(e.path());
                } else {
                    walk(&e.path(), prefix, depth - 1, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), &format!("clockstorm-{pid}-"), 8, &mut out);
    out
}

/// Waits (up to `timeout`) until fault number `index` of run `run_id` has
/// started; returns the guest process's pid.
pub fn wait_for_fault(out: &Path, run_id: &str, index: usize, timeout: std::time::Duration) -> u32 {
    let path = records_path(out, run_id);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let recs = records(&path);
        let started = recs.iter().any(|r| matches!(&r.body, RecordBody::Harness(HarnessEvent::FaultStarted { index: i, .. }) if *i == index));
        if started {
            return qemu_pid(&recs).expect("a started fault follows the guest's spawn");
        }
        assert!(std::time::Instant::now() < deadline, "fault {index} never started: {recs:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The guardian's own bound (`guardian::CLEANUP_BOUND`, 3 s) plus the time
/// a loaded test host takes to schedule it.
pub const KILL_BOUND: std::time::Duration = std::time::Duration::from_secs(4);

/// Starts `run idle` on tsc with `fault` (first fault, starting at 1 s),
/// SIGKILLs the harness once the fault is in place, and checks that within
/// [`KILL_BOUND`] no thread of the guest process and no cgroup named for it
/// is left, and that the guardian said what it undid.
pub fn sigkill_mid_fault(backend: &[&str], fault: &str) {
    let out = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["run", "idle", "--clocksource", "tsc", "--duration", "20s", "--fault", fault])
        .args(backend)
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let guest = wait_for_fault(out.path(), "idle-tsc", 0, std::time::Duration::from_secs(30));
    let during = cgroups_of(guest);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    let killed = std::time::Instant::now();
    while (process_holds_threads(guest) || !cgroups_of(guest).is_empty()) && killed.elapsed() < KILL_BOUND {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let took = killed.elapsed();
    // The guardian holds the harness's stderr until it is done.
    let o = child.wait_with_output().unwrap();
    let log = std::fs::read_to_string(out.path().join("guardian.log")).unwrap_or_default();
    let what = format!("{fault}: cgroups during the fault {during:?}; after {took:?}\n{}\nguardian.log:\n{log}", text(&o));
    assert!(!process_holds_threads(guest), "the guest process {guest} still runs: {what}");
    assert!(cgroups_of(guest).is_empty(), "cgroups left {:?}: {what}", cgroups_of(guest));
    assert!(took < KILL_BOUND, "{what}");
    // The guardian says what it undid (the private dir at least).
    assert!(log.contains("died without undoing its faults"), "{what}");
    assert!(!out.path().join(".clockstorm-reserve").exists(), "the space reserve is left: {what}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("clockstorm guardian: the harness"), "{what}");
}

/// The static probe `ci/build.sh` builds; it also runs on this host.
pub fn static_probe() -> PathBuf {
    let bin = PathBuf::from(BIN);
    let target = bin.ancestors().nth(2).unwrap();
    let probe = target.join("x86_64-unknown-linux-gnu/probe/guest-probe");
    assert!(probe.is_file(), "{} missing: run ci/build.sh", probe.display());
    probe
}

/// Kills a child when dropped (the reference server).
pub struct KillOnDrop(pub std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
