//! A fake kernel: real files in a tempdir, plus the cgroupfs behaviour a plain
//! filesystem lacks (state transitions, task files that accumulate, rmdir of a
//! directory that still holds control files) and injectable write failures.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::super::{CgroupContext, CgroupFs, Hierarchy};

/// The fake kernel. `writes` logs every successful write in order.
#[derive(Debug, Default)]
pub struct FakeKernel {
    pub writes: Mutex<Vec<(PathBuf, String)>>,
    /// (path, value, errno): that write fails with that errno.
    pub fail: Mutex<Vec<(PathBuf, String, i32)>>,
    /// v1: writing FROZEN leaves freezer.state at FREEZING (a stuck freeze).
    pub stuck_freezing: AtomicBool,
}

impl FakeKernel {
    pub fn fail_write(&self, path: impl Into<PathBuf>, value: &str, errno: i32) {
        self.fail.lock().unwrap().push((path.into(), value.to_string(), errno));
    }

    pub fn writes(&self) -> Vec<(PathBuf, String)> {
        self.writes.lock().unwrap().clone()
    }

    /// Writes as (path relative to `base`, value), for compact assertions.
    pub fn writes_rel(&self, base: &Path) -> Vec<(String, String)> {
        self.writes().into_iter().map(|(p, v)| (p.strip_prefix(base).unwrap().display().to_string(), v)).collect()
    }
}

impl CgroupFs for FakeKernel {
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        if let Some((_, _, errno)) = self.fail.lock().unwrap().iter().find(|(p, v, _)| p == path && v == value) {
            return Err(io::Error::from_raw_os_error(*errno));
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        match name {
            "tasks" | "cgroup.threads" | "cgroup.procs" => {
                let mut f = std::fs::OpenOptions::new().append(true).create(true).open(path)?;
                writeln!(f, "{value}")?;
            }
            "freezer.state" if value == "FROZEN" && self.stuck_freezing.load(Ordering::SeqCst) => {
                std::fs::write(path, "FREEZING\n")?;
            }
            "cgroup.freeze" => {
                std::fs::write(path, value)?;
                let events = path.with_file_name("cgroup.events");
                std::fs::write(events, format!("populated 1\nfrozen {}\n", value.trim()))?;
            }
            "cgroup.subtree_control" => {
                let old = std::fs::read_to_string(path)?;
                let mut set: Vec<String> = old.split_whitespace().map(String::from).collect();
                let (op, ctrl) = value.split_at(1);
                set.retain(|c| c != ctrl);
                if op == "+" {
                    set.push(ctrl.to_string());
                }
                std::fs::write(path, set.join(" "))?;
            }
            _ => std::fs::write(path, value)?,
        }
        self.writes.lock().unwrap().push((path.to_path_buf(), value.to_string()));
        Ok(())
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        // cgroupfs rmdir ignores control files; subdirectories still block it.
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        std::fs::remove_dir(path)
    }
}

/// A tempdir holding `cgroup/` and `proc/` fakes.
pub struct FakeHost {
    pub dir: tempfile::TempDir,
    pub kernel: Arc<FakeKernel>,
}

impl FakeHost {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cgroup")).unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        FakeHost { dir, kernel: Arc::new(FakeKernel::default()) }
    }

    pub fn cg(&self) -> PathBuf {
        self.dir.path().join("cgroup")
    }

    pub fn proc(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    /// Create a file (and its parents) under the cgroup root.
    pub fn cg_file(&self, rel: &str, content: &str) {
        let p = self.cg().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// `/proc/<pid>/cgroup` and `/proc/<pid>/task/<tid>/{cgroup,stat}`.
    pub fn proc_thread(&self, pid: u32, tid: u32, cgroup: &str) {
        let task = self.proc().join(pid.to_string()).join("task").join(tid.to_string());
        std::fs::create_dir_all(&task).unwrap();
        std::fs::write(task.join("cgroup"), cgroup).unwrap();
        std::fs::write(task.join("stat"), format!("{tid} (qemu-system-x86) S 1 2 3")).unwrap();
        let pc = self.proc().join(pid.to_string()).join("cgroup");
        if !pc.exists() {
            std::fs::write(pc, cgroup).unwrap();
        }
    }

    pub fn ctx(&self, hierarchy: fn(PathBuf) -> Hierarchy) -> CgroupContext {
        CgroupContext::new(hierarchy(self.cg()), self.proc())
            .with_fs(self.kernel.clone())
            .with_timeout(Duration::from_millis(100))
    }
}

/// v1 host: freezer and cpu hierarchies, pid 100 with threads 101 (freezer
/// cgroup /orig) and 102 (root).
pub fn v1_host() -> FakeHost {
    let h = FakeHost::new();
    h.cg_file("freezer/tasks", "");
    h.cg_file("freezer/orig/tasks", "");
    h.cg_file("cpu/tasks", "");
    h.proc_thread(100, 101, "6:freezer:/orig\n1:cpu,cpuacct:/\n0::/\n");
    h.proc_thread(100, 102, "6:freezer:/\n1:cpu,cpuacct:/\n0::/\n");
    h
}

/// v2 host: pid 100 in /qemu.scope with threads 101 and 102; thread 102 sits in
/// the threaded child /qemu.scope/io.
pub fn v2_host() -> FakeHost {
    let h = FakeHost::new();
    h.cg_file("cgroup.controllers", "cpuset cpu io memory pids");
    h.cg_file("cgroup.subtree_control", "cpu memory pids");
    h.cg_file("qemu.scope/cgroup.controllers", "cpu pids");
    h.cg_file("qemu.scope/cgroup.subtree_control", "");
    h.cg_file("qemu.scope/cgroup.threads", "");
    h.cg_file("qemu.scope/io/cgroup.threads", "");
    h.proc_thread(100, 101, "0::/qemu.scope\n");
    h.proc_thread(100, 102, "0::/qemu.scope/io\n");
    h
}

pub fn v1(root: PathBuf) -> Hierarchy {
    Hierarchy::V1 { root }
}

pub fn v2(root: PathBuf) -> Hierarchy {
    Hierarchy::V2 { root }
}

pub fn s(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}
