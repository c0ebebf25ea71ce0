//! Reading thread state and cgroup membership from a proc root (normally `/proc`).
//!
//! Observed on this project's CI host (Debian 12, kernel 6.18): a thread frozen
//! by the cgroup v1 freezer shows state `D` in `/proc/<pid>/task/<tid>/stat`
//! (uninterruptible sleep in the freezer); a busy thread shows `R`. A thread
//! frozen through cgroup v2 `cgroup.freeze` (tested on the same host's hybrid
//! v2 mount) shows `S` (it waits in the signal-delivery freezer trap), so `D`
//! is not a portable "frozen" signal: use `freezer.state` / `cgroup.events`,
//! or a run time (`schedstat`) that stops growing.

use std::path::{Path, PathBuf};

use super::error::CgroupError;

/// Where procfs normally lives.
pub const DEFAULT_PROC_ROOT: &str = "/proc";

fn read(path: PathBuf) -> Result<(PathBuf, String), CgroupError> {
    match std::fs::read_to_string(&path) {
        Ok(s) => Ok((path, s)),
        Err(source) => Err(CgroupError::Read { path, source }),
    }
}

fn task_file(proc_root: &Path, pid: u32, tid: u32, name: &str) -> PathBuf {
    proc_root.join(pid.to_string()).join("task").join(tid.to_string()).join(name)
}

/// The state letter (`R`, `S`, `D`, `T`, ...) of one thread, from
/// `<proc_root>/<pid>/task/<tid>/stat`.
pub fn thread_state(proc_root: &Path, pid: u32, tid: u32) -> Result<char, CgroupError> {
    let (path, content) = read(task_file(proc_root, pid, tid, "stat"))?;
    // The comm field may contain spaces and ')', so split at the last ')'.
    content.rfind(')').and_then(|i| content[i + 1..].trim_start().chars().next()).ok_or_else(|| CgroupError::Parse {
        path,
        detail: "no state letter after the command name".into(),
        content: content.clone(),
    })
}

/// The state letters of several threads, in the order given, as `(tid, state)`.
pub fn thread_states(proc_root: &Path, pid: u32, tids: &[u32]) -> Result<Vec<(u32, char)>, CgroupError> {
    tids.iter().map(|&tid| thread_state(proc_root, pid, tid).map(|s| (tid, s))).collect()
}

/// All thread ids of a process, from `<proc_root>/<pid>/task`, sorted.
pub fn thread_ids(proc_root: &Path, pid: u32) -> Result<Vec<u32>, CgroupError> {
    let dir = proc_root.join(pid.to_string()).join("task");
    let entries = std::fs::read_dir(&dir).map_err(|source| CgroupError::Read { path: dir.clone(), source })?;
    let mut tids: Vec<u32> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    tids.sort_unstable();
    Ok(tids)
}

/// Nanoseconds a thread has spent on a CPU (first field of
/// `<proc_root>/<pid>/task/<tid>/schedstat`).
pub fn thread_run_time_ns(proc_root: &Path, pid: u32, tid: u32) -> Result<u64, CgroupError> {
    let (path, content) = read(task_file(proc_root, pid, tid, "schedstat"))?;
    content.split_whitespace().next().and_then(|f| f.parse().ok()).ok_or_else(|| CgroupError::Parse {
        path,
        detail: "first field is not a run time in ns".into(),
        content: content.clone(),
    })
}

/// cgroup v1: the path (relative to the controller's hierarchy root, starting
/// with `/`) of the cgroup `tid` is in for `controller`, from
/// `<proc_root>/<pid>/task/<tid>/cgroup` lines like `6:freezer:/some/path`.
/// Co-mounted controllers (`4:cpu,cpuacct:/x`) are matched too.
pub fn v1_cgroup_of_thread(proc_root: &Path, pid: u32, tid: u32, controller: &str) -> Result<String, CgroupError> {
    let (path, content) = read(task_file(proc_root, pid, tid, "cgroup"))?;
    for line in content.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, cg) = (parts.next(), parts.next(), parts.next());
        if let (Some(ctrls), Some(cg)) = (ctrls, cg) {
            if ctrls.split(',').any(|c| c == controller) {
                return Ok(cg.to_string());
            }
        }
    }
    Err(CgroupError::Parse { path, detail: format!("no line for the {controller} controller"), content })
}

/// cgroup v2: the process's cgroup path (starting with `/`), from the `0::/path`
/// line of `<proc_root>/<pid>/cgroup`. Returns the path and the file read.
pub fn v2_cgroup_of_process(proc_root: &Path, pid: u32) -> Result<(String, PathBuf), CgroupError> {
    let (path, content) = read(proc_root.join(pid.to_string()).join("cgroup"))?;
    match content.lines().find_map(|l| l.strip_prefix("0::")) {
        Some(cg) => Ok((cg.to_string(), path)),
        None => Err(CgroupError::Parse { path, detail: "no cgroup v2 line \"0::/...\"".into(), content }),
    }
}
