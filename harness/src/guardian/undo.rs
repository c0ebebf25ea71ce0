//! Undoing what a dead harness left: the guardian's side of every [`Item`].
//!
//! Order matters. Control-file writes and cgroup removals run newest first,
//! exactly as the harness's own undo log would (thaw or lift the quota,
//! move the threads back, remove the cgroup). Then the guest processes get
//! SIGCONT and SIGKILL and are waited for: a vCPU thread in a frozen cgroup
//! cannot die until thawed, which is why the thaw comes first and why the
//! kill alone (PR_SET_PDEATHSIG) was not enough. Cgroups that were still
//! busy are removed once their processes are gone, then the temp dirs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::order::Item;
use super::proc_stat;

/// How long the guardian waits for killed processes to go and busy cgroups
/// to empty. A killed QEMU exits in milliseconds once nothing holds its
/// threads; this bound is for a loaded host. The whole cleanup stays within
/// [`CLEANUP_BOUND`].
pub const CLEANUP_BOUND: Duration = Duration::from_secs(3);

const POLL: Duration = Duration::from_millis(5);

/// What the cleanup did, a line per item, and what it could not do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Undone {
    pub done: Vec<String>,
    pub failed: Vec<String>,
}

/// Undoes `items` (by watch id, oldest first) on the real filesystem.
pub fn undo_all(items: &BTreeMap<u64, Item>, proc_root: &Path) -> Undone {
    let deadline = Instant::now() + CLEANUP_BOUND;
    let mut undone = Undone::default();
    let mut busy_dirs = Vec::new();
    for item in items.values().rev() {
        match item {
            Item::Write { path, value } => match write(path, value) {
                Ok(()) => undone.done.push(format!("wrote {value:?} to {}", path.display())),
                // A thread that exited needs no moving back; a cgroup already
                // removed needs no thaw.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ESRCH) | Some(libc::ENOENT)) => {}
                Err(e) => undone.failed.push(format!("writing {value:?} to {}: {e}", path.display())),
            },
            Item::RemoveDir { path } => match rmdir(path) {
                Ok(true) => undone.done.push(format!("removed {}", path.display())),
                Ok(false) => {}
                Err(_) => busy_dirs.push(path.clone()),
            },
            Item::Process { .. } | Item::TempDir { .. } | Item::RemoveFile { .. } => {}
        }
    }
    let mut killed = Vec::new();
    for item in items.values() {
        if let Item::Process { pid, start_time } = *item {
            // A pid reused by another process since is not ours to kill.
            match proc_stat::read(proc_root, pid) {
                Some(stat) if stat.start_time == start_time && !stat.is_dead() => {
                    let group = Pid::from_raw(pid as i32);
                    let _ = killpg(group, Signal::SIGCONT);
                    let _ = killpg(group, Signal::SIGKILL);
                    killed.push(pid);
                }
                Some(stat) if stat.start_time != start_time => {}
                // PR_SET_PDEATHSIG got there first (or the thaw let it finish dying).
                _ => undone.done.push(format!("process {pid} was gone already")),
            }
        }
    }
    for pid in killed {
        while proc_stat::read(proc_root, pid).is_some_and(|s| !s.is_dead()) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        match proc_stat::read(proc_root, pid) {
            Some(s) if !s.is_dead() => undone.failed.push(format!("process {pid} still runs {CLEANUP_BOUND:?} after SIGKILL (state {})", s.state)),
            _ => undone.done.push(format!("killed process {pid}")),
        }
    }
    for path in busy_dirs {
        loop {
            match rmdir(&path) {
                Ok(_) => {
                    undone.done.push(format!("removed {}", path.display()));
                    break;
                }
                Err(e) if Instant::now() >= deadline => {
                    undone.failed.push(format!("removing {}: {e}", path.display()));
                    break;
                }
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }
    for item in items.values() {
        if let Item::RemoveFile { path } = item {
            match std::fs::remove_file(path) {
                Ok(()) => undone.done.push(format!("removed {}", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => undone.failed.push(format!("removing {}: {e}", path.display())),
            }
        }
    }
    for item in items.values() {
        if let Item::TempDir { path } = item {
            // Only what the harness names as its own private dirs.
            let ours = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("clockstorm-"));
            if ours && path.exists() {
                match std::fs::remove_dir_all(path) {
                    Ok(()) => undone.done.push(format!("removed {}", path.display())),
                    Err(e) => undone.failed.push(format!("removing {}: {e}", path.display())),
                }
            }
        }
    }
    undone
}

/// One `write(2)` to an existing file, as cgroupfs wants it (O_TRUNC, as a
/// shell's `>` opens it, is accepted by cgroupfs and keeps plain test files exact).
fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).truncate(true).open(path)?.write_all(value.as_bytes())
}

/// Ok(true) when removed, Ok(false) when it was already gone.
fn rmdir(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    #[test]
    fn writes_run_newest_first_then_dirs_then_processes_and_temp_dirs() {
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join("state");
        std::fs::write(&state, "FROZEN").unwrap();
        std::fs::write(root.path().join("reserve"), "x").unwrap();
        let cg = root.path().join("cg");
        std::fs::create_dir(&cg).unwrap();
        let tmp = root.path().join("clockstorm-abc");
        std::fs::create_dir(&tmp).unwrap();
        std::fs::write(tmp.join("qmp.sock"), "").unwrap();
        let not_ours = root.path().join("other");
        std::fs::create_dir(&not_ours).unwrap();
        let mut child = Command::new("sleep").arg("60").process_group(0).spawn().unwrap();
        let start_time = proc_stat::read(Path::new("/proc"), child.id()).unwrap().start_time;
        let items = BTreeMap::from([
            (1, Item::Process { pid: child.id(), start_time }),
            (2, Item::RemoveDir { path: cg.clone() }),
            (3, Item::Write { path: state.clone(), value: "THAWED".into() }),
            (4, Item::TempDir { path: tmp.clone() }),
            (5, Item::TempDir { path: not_ours.clone() }),
            (6, Item::RemoveFile { path: state.with_file_name("reserve") }),
        ]);
        let undone = undo_all(&items, Path::new("/proc"));
        assert!(undone.failed.is_empty(), "{undone:?}");
        assert_eq!(std::fs::read_to_string(&state).unwrap(), "THAWED");
        assert!(!cg.exists() && !tmp.exists());
        assert!(not_ours.exists(), "a dir not named clockstorm-* is never removed");
        assert!(child.wait().unwrap().code().is_none(), "killed by a signal");
        assert_eq!(undone.done.len(), 5, "{undone:?}");
        assert!(!root.path().join("reserve").exists());
        assert!(undone.done.contains(&format!("killed process {}", child.id())), "{undone:?}");
    }

    #[test]
    fn a_reused_pid_is_not_killed() {
        let mut child = Command::new("sleep").arg("60").process_group(0).spawn().unwrap();
        let start_time = proc_stat::read(Path::new("/proc"), child.id()).unwrap().start_time;
        let items = BTreeMap::from([(1, Item::Process { pid: child.id(), start_time: start_time + 1 })]);
        let undone = undo_all(&items, Path::new("/proc"));
        assert_eq!(undone, Undone::default());
        assert!(child.try_wait().unwrap().is_none(), "still running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn gone_threads_and_cgroups_are_not_failures() {
        let root = tempfile::tempdir().unwrap();
        let items = BTreeMap::from([
            (1, Item::RemoveDir { path: root.path().join("gone") }),
            (2, Item::Write { path: root.path().join("gone/tasks"), value: "123".into() }),
        ]);
        assert_eq!(undo_all(&items, Path::new("/proc")), Undone::default());
    }
}
