//! What an earlier run left behind, found and cleaned when a run starts:
//! clockstorm cgroups (`clockstorm-<pid>-<what>`), guest processes and
//! private socket dirs whose harness is gone. The guardian undoes these when
//! a harness dies; this sweep covers the cases where the guardian could not
//! (it was killed too, or the run came from a build without one).
//!
//! "Whose harness is gone" is decided per item and never by age alone: a
//! process is ours while its parent is a live `clockstorm` process, and a
//! private dir while the harness named in its `owner` file lives. A
//! concurrent run is never touched.

mod cgroups;
mod owner;
mod private_dirs;
mod processes;

use std::path::{Path, PathBuf};

pub use owner::own_private_dir;

/// Where to look: the host's roots, or a fake tree in tests.
#[derive(Debug, Clone)]
pub struct Roots {
    pub cgroup: PathBuf,
    pub proc: PathBuf,
    pub tmp: PathBuf,
}

impl Roots {
    /// `/sys/fs/cgroup`, `/proc` and the temp dir.
    pub fn host() -> Self {
        Roots { cgroup: crate::faults::cgroup::DEFAULT_ROOT.into(), proc: "/proc".into(), tmp: std::env::temp_dir() }
    }
}

/// One thing found, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it was, e.g. `cgroup /sys/fs/cgroup/freezer/clockstorm-12-vcpu (FROZEN, 1 thread of process 12)`.
    pub what: String,
    /// What the sweep did, e.g. `thawed, process 12 killed, removed`.
    pub done: String,
}

/// Finds and cleans what earlier runs left; the caller prints the findings.
pub fn sweep(roots: &Roots) -> Vec<Finding> {
    let mut found = cgroups::sweep(roots);
    found.extend(processes::sweep(roots));
    found.extend(private_dirs::sweep(roots));
    found
}

/// [`sweep`] on the host, a line on stderr per finding.
pub fn sweep_host() {
    for f in sweep(&Roots::host()) {
        crate::output::note(&format!("an earlier run left {} behind: {}", f.what, f.done));
    }
}

/// True while `pid` lives and its parent is a live clockstorm harness: then
/// it belongs to a run in progress and is not a leftover.
fn held_by_live_harness(proc_root: &Path, pid: u32) -> bool {
    use crate::guardian::proc_stat;
    let Some(stat) = proc_stat::read(proc_root, pid).filter(|s| !s.is_dead()) else { return false };
    let parent_alive = proc_stat::read(proc_root, stat.ppid).is_some_and(|s| !s.is_dead());
    parent_alive && is_clockstorm(proc_root, stat.ppid)
}

/// Whether `pid` runs a clockstorm binary: this very executable (whatever
/// it was installed as) or one whose file name starts with `clockstorm`.
fn is_clockstorm(proc_root: &Path, pid: u32) -> bool {
    let Ok(exe) = std::fs::read_link(proc_root.join(pid.to_string()).join("exe")) else { return false };
    let named = exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("clockstorm"));
    named || std::env::current_exe().is_ok_and(|me| me == exe)
}

#[cfg(test)]
mod tests;
