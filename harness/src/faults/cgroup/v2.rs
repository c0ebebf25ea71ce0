//! cgroup v2 setups: a *threaded* child of the process's own cgroup.
//!
//! Constraints (see the kernel's cgroup-v2 "Threads" section):
//! - A thread can only move within its process's threaded domain, so the child
//!   is created inside the process's cgroup `P` (from `/proc/<pid>/cgroup`,
//!   line `0::P`) and made `threaded`; `P` then becomes a *threaded domain*.
//! - `P` cannot be the root cgroup (the root cannot host the threaded subtree
//!   we need here and holds unrelated processes): QEMU must run in a cgroup of
//!   its own, e.g. `systemd-run --scope -p Delegate=yes qemu-system-...`.
//! - `P` must not have domain-only controllers (memory, io, hugetlb, rdma,
//!   misc) enabled in its `cgroup.subtree_control`, and any other children of
//!   `P` must be threaded too, otherwise the kernel refuses `threaded`.
//! - For a CPU limit, `cpu` must be listed in `P/cgroup.controllers` (enabled by
//!   `P`'s parent); `+cpu` is then written to `P/cgroup.subtree_control` and
//!   taken back out on release if it was not there before.
//! - While a thread sits in a threaded child, it is in one cgroup only: do not
//!   freeze and throttle the same thread at the same time on v2.

use std::path::{Path, PathBuf};

use super::context::CgroupContext;
use super::error::CgroupError;
use super::fs;
use super::proc::v2_cgroup_of_process;
use super::stats::{parse_cpu_stat, ThrottleStats};
use super::undo::{Undo, UndoLog};

/// Controllers that cannot be enabled under a threaded domain.
const DOMAIN_ONLY: &[&str] = &["memory", "io", "hugetlb", "rdma", "misc"];

/// The directory of the process's cgroup, checked for threaded-child fitness.
fn process_cgroup_dir(ctx: &CgroupContext, pid: u32) -> Result<PathBuf, CgroupError> {
    let (cg, proc_file) = v2_cgroup_of_process(&ctx.proc_root, pid)?;
    if cg.trim() == "/" {
        return Err(CgroupError::ProcessInRootCgroup { pid, path: proc_file });
    }
    let parent = ctx.hierarchy.root().join(cg.trim().trim_start_matches('/'));
    let sc_path = parent.join("cgroup.subtree_control");
    let sc = fs::read(&*ctx.fs, &sc_path)?;
    let blocking: Vec<&str> = sc.split_whitespace().filter(|c| DOMAIN_ONLY.contains(c)).collect();
    if !blocking.is_empty() {
        return Err(CgroupError::ThreadedNotAllowed {
            path: parent.join("<child>"),
            reason: format!(
                "{} enables domain-only controllers {blocking:?}, which forbid threaded children; \
                 run QEMU in a leaf cgroup without them (e.g. systemd-run --scope)",
                sc_path.display()
            ),
        });
    }
    Ok(parent)
}

/// The thread's current cgroup file to move it back to (`cgroup.threads` of
/// the `0::` cgroup in `/proc/<pid>/task/<tid>/cgroup`).
fn origin_threads_file(ctx: &CgroupContext, pid: u32, tid: u32) -> Result<PathBuf, CgroupError> {
    let path = ctx.proc_root.join(pid.to_string()).join("task").join(tid.to_string()).join("cgroup");
    let content = std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path: path.clone(), source })?;
    match content.lines().find_map(|l| l.strip_prefix("0::")) {
        Some(cg) => Ok(ctx.hierarchy.root().join(cg.trim().trim_start_matches('/')).join("cgroup.threads")),
        None => Err(CgroupError::Parse { path, detail: "no cgroup v2 line \"0::/...\"".into(), content }),
    }
}

/// mkdir `<parent>/<name>` and make it threaded.
fn create_threaded(ctx: &CgroupContext, log: &mut UndoLog, parent: &Path, name: &str) -> Result<PathBuf, CgroupError> {
    let dir = parent.join(name);
    fs::mkdir(&*ctx.fs, &dir)?;
    log.push(Undo::RemoveDir(dir.clone()));
    let type_file = dir.join("cgroup.type");
    let refused = |why: String| CgroupError::ThreadedNotAllowed {
        path: dir.clone(),
        reason: format!(
            "{why}; {} must be able to become a threaded domain: no domain-only controllers \
             (memory, io, ...) in its cgroup.subtree_control and no non-threaded children",
            parent.display()
        ),
    };
    match fs::write(&*ctx.fs, &type_file, "threaded") {
        Ok(()) => {}
        Err(CgroupError::Write { source, .. }) => return Err(refused(format!("kernel said: {source}"))),
        Err(e) => return Err(e),
    }
    let now = fs::read(&*ctx.fs, &type_file)?;
    if now.trim() != "threaded" {
        return Err(refused(format!("{} reads {:?} after the write", type_file.display(), now.trim())));
    }
    Ok(dir)
}

/// Move each tid into `<dir>/cgroup.threads`, recording where it came from.
fn attach(ctx: &CgroupContext, log: &mut UndoLog, dir: &Path, pid: u32, tids: &[u32]) -> Result<(), CgroupError> {
    let threads = dir.join("cgroup.threads");
    for &tid in tids {
        let back = origin_threads_file(ctx, pid, tid)?;
        fs::write(&*ctx.fs, &threads, &tid.to_string())?;
        log.push(Undo::MoveBack { tid, to: back });
    }
    Ok(())
}

/// Freeze `tids` in a threaded child `name` of the process's cgroup.
pub(crate) fn freeze(ctx: &CgroupContext, log: &mut UndoLog, name: &str, pid: u32, tids: &[u32]) -> Result<PathBuf, CgroupError> {
    let parent = process_cgroup_dir(ctx, pid)?;
    let dir = create_threaded(ctx, log, &parent, name)?;
    attach(ctx, log, &dir, pid, tids)?;
    let freeze = dir.join("cgroup.freeze");
    let events = dir.join("cgroup.events");
    log.push(Undo::ThawV2 { freeze: freeze.clone(), events: events.clone() });
    fs::write(&*ctx.fs, &freeze, "1")?;
    fs::poll_until(&*ctx.fs, &events, "frozen 1", ctx.timeout, |s| s.lines().any(|l| l.trim() == "frozen 1"))?;
    Ok(dir)
}

/// Limit `tids` with `cpu.max = "<quota_us> <period_us>"` in a threaded child.
pub(crate) fn cpu_quota(
    ctx: &CgroupContext,
    log: &mut UndoLog,
    name: &str,
    pid: u32,
    tids: &[u32],
    quota_us: u64,
    period_us: u64,
) -> Result<PathBuf, CgroupError> {
    let parent = process_cgroup_dir(ctx, pid)?;
    let ctrl_path = parent.join("cgroup.controllers");
    let available = fs::read(&*ctx.fs, &ctrl_path)?;
    if !available.split_whitespace().any(|c| c == "cpu") {
        return Err(CgroupError::ControllerUnavailable { controller: "cpu", path: ctrl_path, found: available.trim().to_string() });
    }
    let dir = create_threaded(ctx, log, &parent, name)?;
    let sc_path = parent.join("cgroup.subtree_control");
    let enabled = fs::read(&*ctx.fs, &sc_path)?;
    if !enabled.split_whitespace().any(|c| c == "cpu") {
        // Only possible once the child is threaded (P is then a threaded domain).
        fs::write(&*ctx.fs, &sc_path, "+cpu")?;
        log.push(Undo::Write { path: sc_path, value: "-cpu".into() });
    }
    attach(ctx, log, &dir, pid, tids)?;
    let max = dir.join("cpu.max");
    // Lift the limit before the threads move back (undo runs newest first), so
    // none is left throttled after release (seen on v1, kernel 6.18).
    log.push(Undo::Write { path: max.clone(), value: format!("max {period_us}") });
    fs::write(&*ctx.fs, &max, &format!("{quota_us} {period_us}"))?;
    Ok(dir)
}

/// Throttling counters from `<dir>/cpu.stat` (v2: `throttled_usec`).
pub(crate) fn cpu_stats(ctx: &CgroupContext, dir: &Path) -> Result<ThrottleStats, CgroupError> {
    let path = dir.join("cpu.stat");
    let content = fs::read(&*ctx.fs, &path)?;
    parse_cpu_stat(&path, &content, "throttled_usec", 1000)
}
