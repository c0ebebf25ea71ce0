//! clockstorm cgroups (`clockstorm-<pid>-<what>`, made by the vcpu-freeze
//! and starve faults) whose process is gone or no longer held by a harness.
//!
//! Cleaning one: thaw it, lift its CPU limit, kill the process whose threads
//! are in it (they got there only through a harness's write, so the process
//! is certainly a guest of a dead run), wait for it to empty, remove it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{held_by_live_harness, Finding, Roots};
use crate::faults::cgroup::{detect, Hierarchy};

/// How long an emptied cgroup may take to become removable.
const EMPTY_WAIT: Duration = Duration::from_secs(3);

/// v2 trees can be deep (systemd slices, scopes); the harness makes its
/// cgroups inside the guest process's own cgroup.
const V2_MAX_DEPTH: usize = 10;

/// The pid in a clockstorm cgroup's name, or None for any other name.
pub(super) fn pid_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("clockstorm-")?;
    let (pid, what) = rest.split_once('-')?;
    (!what.is_empty() && what.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).then_some(())?;
    pid.parse().ok()
}

pub(super) fn sweep(roots: &Roots) -> Vec<Finding> {
    sweep_with(roots, EMPTY_WAIT)
}

/// [`sweep`], waiting at most `empty_wait` per cgroup for it to empty.
pub(super) fn sweep_with(roots: &Roots, empty_wait: Duration) -> Vec<Finding> {
    let mut dirs = Vec::new();
    match detect(&roots.cgroup) {
        Ok(Hierarchy::V1 { root }) => {
            let mut seen = Vec::new();
            for hier in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                // `cpu` and `cpuacct` are often links to `cpu,cpuacct`.
                let Ok(real) = hier.path().canonicalize() else { continue };
                if seen.contains(&real) || !real.join("tasks").is_file() {
                    continue;
                }
                collect(&real, 1, &mut dirs);
                seen.push(real);
            }
        }
        Ok(Hierarchy::V2 { root }) => collect(&root, V2_MAX_DEPTH, &mut dirs),
        Err(_) => {}
    }
    dirs.into_iter().filter_map(|(dir, pid)| clean(roots, &dir, pid, empty_wait)).collect()
}

/// clockstorm cgroups under `dir`, `depth` levels down at most.
fn collect(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, u32)>) {
    if depth == 0 {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match pid_of(&entry.file_name().to_string_lossy()) {
            Some(pid) => out.push((entry.path(), pid)),
            None => collect(&entry.path(), depth - 1, out),
        }
    }
}

/// The threads in a cgroup (v1 `tasks`, v2 `cgroup.threads`).
fn threads(dir: &Path) -> Vec<u32> {
    ["tasks", "cgroup.threads"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|t| t.split_whitespace().filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

fn clean(roots: &Roots, dir: &Path, pid: u32, empty_wait: Duration) -> Option<Finding> {
    if held_by_live_harness(&roots.proc, pid) {
        return None;
    }
    // Before the thaw: a thawed thread of a killed process is gone at once.
    let tids = threads(dir);
    let mut state = Vec::new();
    let mut done = Vec::new();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().map(|s| s.trim().to_string());
    if let Some(s) = read("freezer.state").filter(|s| s != "THAWED") {
        state.push(s);
        if write(&dir.join("freezer.state"), "THAWED") {
            done.push("thawed");
        }
    }
    if read("cgroup.freeze").as_deref() == Some("1") {
        state.push("frozen".into());
        if write(&dir.join("cgroup.freeze"), "0") {
            done.push("thawed");
        }
    }
    if let Some(q) = read("cpu.cfs_quota_us").filter(|q| q != "-1") {
        state.push(format!("CPU quota {q} µs"));
        if write(&dir.join("cpu.cfs_quota_us"), "-1") {
            done.push("quota lifted");
        }
    }
    if let Some(m) = read("cpu.max").filter(|m| !m.starts_with("max")) {
        state.push(format!("cpu.max {m}"));
        if write(&dir.join("cpu.max"), "max") {
            done.push("quota lifted");
        }
    }
    let mut killed = String::new();
    if !tids.is_empty() {
        state.push(format!("{} thread(s) of process {pid}", tids.len()));
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGCONT);
        if kill(Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok() {
            killed = format!("process {pid} killed");
        }
    }
    if !killed.is_empty() {
        done.push(&killed);
    }
    let deadline = Instant::now() + empty_wait;
    let removed = loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => break Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break Ok(()),
            Err(e) if Instant::now() >= deadline => break Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let done = match removed {
        Ok(()) => [done.as_slice(), &["removed"]].concat().join(", "),
        Err(e) => format!("{}could not remove it: {e}", done.iter().map(|d| format!("{d}, ")).collect::<String>()),
    };
    let state = if state.is_empty() { String::new() } else { format!(" ({})", state.join(", ")) };
    Some(Finding { what: format!("cgroup {}{state}", dir.display()), done })
}

fn write(path: &Path, value: &str) -> bool {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .is_ok()
}
