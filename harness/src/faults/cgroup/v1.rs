//! cgroup v1 setups: a child of the `freezer` or `cpu` hierarchy root.
//!
//! v1 places individual threads: writing a tid to a cgroup's `tasks` file
//! moves only that thread, so vCPU threads can be frozen while QEMU's I/O and
//! main threads keep running.

use std::path::{Path, PathBuf};

use super::context::CgroupContext;
use super::error::CgroupError;
use super::fs;
use super::proc::v1_cgroup_of_thread;
use super::stats::{parse_cpu_stat, ThrottleStats};
use super::undo::{Undo, UndoLog};

/// `<hierarchy dir>/<relative cgroup path>/tasks`.
fn tasks_of(hier_dir: &Path, rel: &str) -> PathBuf {
    hier_dir.join(rel.trim_start_matches('/')).join("tasks")
}

/// Create `<controller dir>/<name>` and move `tids` into it, recording each
/// thread's previous cgroup (from `/proc/<pid>/task/<tid>/cgroup`) to move it
/// back to. Returns the new cgroup directory.
fn create_and_attach(
    ctx: &CgroupContext,
    log: &mut UndoLog,
    controller: &'static str,
    name: &str,
    pid: u32,
    tids: &[u32],
) -> Result<PathBuf, CgroupError> {
    let hier = ctx.hierarchy.v1_controller_dir(controller)?;
    let dir = hier.join(name);
    fs::mkdir(&*ctx.fs, &dir)?;
    log.push(Undo::RemoveDir(dir.clone()));
    let tasks = dir.join("tasks");
    for &tid in tids {
        let origin = v1_cgroup_of_thread(&ctx.proc_root, pid, tid, controller)?;
        fs::write(&*ctx.fs, &tasks, &tid.to_string())?;
        log.push(Undo::MoveBack { tid, to: tasks_of(&hier, &origin) });
    }
    Ok(dir)
}

/// Freeze `tids` in a new freezer cgroup `name`; waits for `FROZEN`.
pub(crate) fn freeze(ctx: &CgroupContext, log: &mut UndoLog, name: &str, pid: u32, tids: &[u32]) -> Result<PathBuf, CgroupError> {
    let dir = create_and_attach(ctx, log, "freezer", name, pid, tids)?;
    let state = dir.join("freezer.state");
    // Pushed before the write: a freeze that times out half-way is thawed too.
    log.push(Undo::ThawV1 { state: state.clone() });
    fs::write(&*ctx.fs, &state, "FROZEN")?;
    // The kernel reports FREEZING until every task has stopped.
    fs::poll_until(&*ctx.fs, &state, "FROZEN", ctx.timeout, |s| s.trim() == "FROZEN")?;
    Ok(dir)
}

/// Limit `tids` to `quota_us` per `period_us` in a new cpu cgroup `name`.
pub(crate) fn cpu_quota(
    ctx: &CgroupContext,
    log: &mut UndoLog,
    name: &str,
    pid: u32,
    tids: &[u32],
    quota_us: u64,
    period_us: u64,
) -> Result<PathBuf, CgroupError> {
    let dir = create_and_attach(ctx, log, "cpu", name, pid, tids)?;
    // Period first: the kernel checks the quota against the current period.
    fs::write(&*ctx.fs, &dir.join("cpu.cfs_period_us"), &period_us.to_string())?;
    let quota = dir.join("cpu.cfs_quota_us");
    // Lift the quota before moving threads back (undo runs newest first):
    // observed on kernel 6.18, a thread moved out while throttled stayed
    // unrunnable for up to ~0.75 s after the move.
    log.push(Undo::Write { path: quota.clone(), value: "-1".into() });
    fs::write(&*ctx.fs, &quota, &quota_us.to_string())?;
    Ok(dir)
}

/// Throttling counters from `<dir>/cpu.stat` (v1: `throttled_time` in ns).
pub(crate) fn cpu_stats(ctx: &CgroupContext, dir: &Path) -> Result<ThrottleStats, CgroupError> {
    let path = dir.join("cpu.stat");
    let content = fs::read(&*ctx.fs, &path)?;
    parse_cpu_stat(&path, &content, "throttled_time", 1)
}
