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
