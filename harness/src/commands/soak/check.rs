//! What a soak run left: the guest process, its cgroups, frozen threads,
//! records that do not parse, completed runs the report lost.

use std::path::{Path, PathBuf};

use clockstorm_protocol::{HarnessEvent, RecordBody, RunOutcome, RunRecord};

/// The guest process and cgroups a run left behind.
#[derive(Debug, Default)]
pub struct Left {
    /// The guest process still has a live thread.
    pub guest: bool,
    pub cgroups: Vec<PathBuf>,
    /// Threads in a clockstorm cgroup that is still frozen.
    pub frozen_threads: usize,
}

/// True while any thread of `pid` is not a zombie (a QEMU whose vCPU thread
/// sits in a frozen cgroup has a zombie main thread but holds its memory).
pub fn holds_threads(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| crate::guardian::proc_stat::parse(&s))
            .is_some_and(|s| !s.is_dead())
    })
}

/// clockstorm cgroups named for `pid` anywhere under `root`.
pub fn cgroups_of(root: &Path, pid: u32) -> Vec<PathBuf> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(e.path());
            } else if depth > 1 {
                walk(&e.path(), prefix, depth - 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &format!("clockstorm-{pid}-"), 10, &mut out);
    out
}

pub fn left_by(guest: u32, cgroup_root: &Path) -> Left {
    let cgroups = cgroups_of(cgroup_root, guest);
    let frozen_threads = cgroups
        .iter()
        .filter(|d| {
            let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
            read("freezer.state").trim() == "FROZEN" || read("cgroup.freeze").trim() == "1"
        })
        .map(|d| {
            ["tasks", "cgroup.threads"]
                .iter()
                .map(|f| std::fs::read_to_string(d.join(f)).unwrap_or_default().split_whitespace().count())
                .sum::<usize>()
        })
        .sum();
    Left { guest: holds_threads(guest), cgroups, frozen_threads }
}

/// A records file read line by line.
#[derive(Debug, Default, PartialEq)]
pub struct Records {
    pub records: Vec<RunRecord>,
    /// Lines that do not parse, beyond a torn last one.
    pub bad_lines: usize,
    /// The last line does not parse and has no newline: a write cut short.
    pub torn_last_line: bool,
}

pub fn read_records(path: &Path) -> Records {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Records::default();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<RunRecord>(line.trim_end()) {
            Ok(r) => out.records.push(r),
            Err(_) if i + 1 == lines.len() && !line.ends_with('\n') => out.torn_last_line = true,
            Err(_) => out.bad_lines += 1,
        }
    }
    out
}

/// The guest pid the run recorded.
pub fn guest_pid(records: &[RunRecord]) -> Option<u32> {
    records.iter().find_map(|r| match r.body {
        RecordBody::Harness(HarnessEvent::QemuSpawned { pid }) => Some(pid),
        _ => None,
    })
}

/// Whether the records end with the run completed.
pub fn completed(records: &[RunRecord]) -> bool {
    records
        .iter()
        .rev()
        .any(|r| matches!(&r.body, RecordBody::Harness(HarnessEvent::RunFinished(RunOutcome::Completed { .. }))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_told_from_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.jsonl");
        std::fs::write(&path, "garbage\n{\"t_ns\":").unwrap();
        assert_eq!(read_records(&path), Records { records: vec![], bad_lines: 1, torn_last_line: true });
        std::fs::write(&path, "{\"t_ns\":\n").unwrap();
        assert_eq!(read_records(&path), Records { records: vec![], bad_lines: 1, torn_last_line: false });
    }
}
