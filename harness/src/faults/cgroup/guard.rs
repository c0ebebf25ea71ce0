//! The public guards: [`ThreadFreeze`] and [`CpuQuota`]. Each undoes its setup
//! in `release()` (idempotent) and again, as a fallback, on drop.

use std::path::{Path, PathBuf};

use super::context::{check_name, check_tids, CgroupContext};
use super::detect::Hierarchy;
use super::error::CgroupError;
use super::stats::ThrottleStats;
use super::undo::UndoLog;
use super::{v1, v2};

/// Run a setup; on failure undo what it did and return the setup's error.
fn setup(ctx: &CgroupContext, f: impl FnOnce(&mut UndoLog) -> Result<PathBuf, CgroupError>) -> Result<(UndoLog, PathBuf), CgroupError> {
    let mut log = UndoLog::new(ctx.fs.clone(), ctx.timeout);
    match f(&mut log) {
        Ok(dir) => Ok((log, dir)),
        Err(e) => {
            if let Err(cleanup) = log.release() {
                eprintln!("clockstorm: cgroup setup failed ({e}); cleanup also failed: {cleanup}");
            }
            Err(e)
        }
    }
}

/// Log a failed release from `Drop`, where it cannot be returned.
fn release_on_drop(log: &mut UndoLog) {
    if let Err(e) = log.release() {
        eprintln!("clockstorm: cgroup release on drop failed: {e}");
    }
}

/// A set of threads frozen through a cgroup freezer; thawed and moved back by
/// [`ThreadFreeze::release`] or on drop.
#[derive(Debug)]
pub struct ThreadFreeze {
    log: UndoLog,
    dir: PathBuf,
    pid: u32,
    tids: Vec<u32>,
}

impl ThreadFreeze {
    /// Freeze threads `tids` of process `pid` in a new cgroup called `name`
    /// (e.g. `clockstorm-<pid>-vcpu`) and wait until the kernel reports them
    /// frozen (up to `ctx.timeout`). v1: under the freezer hierarchy root;
    /// v2: a threaded child of the process's cgroup (see the `v2` module docs
    /// for the constraints). On any error, everything done so far is undone.
    pub fn freeze(ctx: &CgroupContext, name: &str, pid: u32, tids: &[u32]) -> Result<Self, CgroupError> {
        check_name(name)?;
        check_tids(tids)?;
        let (log, dir) = setup(ctx, |log| match ctx.hierarchy {
            Hierarchy::V1 { .. } => v1::freeze(ctx, log, name, pid, tids),
            Hierarchy::V2 { .. } => v2::freeze(ctx, log, name, pid, tids),
        })?;
        Ok(ThreadFreeze { log, dir, pid, tids: tids.to_vec() })
    }

    /// The cgroup directory holding the frozen threads.
    pub fn cgroup_dir(&self) -> &Path {
        &self.dir
    }

    /// Same as [`cgroup_dir`](Self::cgroup_dir).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The process whose threads are frozen.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The frozen thread ids.
    pub fn tids(&self) -> &[u32] {
        &self.tids
    }

    /// Whether [`release`](Self::release) has already run.
    pub fn is_released(&self) -> bool {
        self.log.steps.is_empty()
    }

    /// Thaw, move the threads back to their previous cgroups, remove the
    /// cgroup. Idempotent; every step is attempted even if one fails.
    pub fn release(&mut self) -> Result<(), CgroupError> {
        self.log.release()
    }
}

impl Drop for ThreadFreeze {
    fn drop(&mut self) {
        release_on_drop(&mut self.log);
    }
}

/// A CFS bandwidth limit: `percent` of one CPU per `period_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuLimit {
    /// Share of one CPU, 1..=100 (more than 100 allows several CPUs' worth).
    pub percent: u32,
    /// Enforcement period in µs; the kernel accepts 1000..=1000000.
    pub period_us: u64,
}

impl CpuLimit {
    /// Default enforcement period (the kernel's default), 100 ms.
    pub const DEFAULT_PERIOD_US: u64 = 100_000;

    /// `percent` of one CPU with the default 100 ms period.
    pub fn percent(percent: u32) -> Self {
        CpuLimit { percent, period_us: Self::DEFAULT_PERIOD_US }
    }

    /// The quota in µs per period: `period_us * percent / 100`.
    pub fn quota_us(&self) -> u64 {
        self.period_us * u64::from(self.percent) / 100
    }

    fn check(&self) -> Result<(), CgroupError> {
        if !(1000..=1_000_000).contains(&self.period_us) || self.percent == 0 || self.quota_us() < 1000 {
            return Err(CgroupError::InvalidArgument(format!(
                "cpu limit {}% of a {} µs period gives a {} µs quota; the kernel needs a period \
                 of 1000..=1000000 µs and a quota of at least 1000 µs",
                self.percent,
                self.period_us,
                self.quota_us()
            )));
        }
        Ok(())
    }
}

/// A set of threads under a CPU quota; restored by [`CpuQuota::release`] or on drop.
#[derive(Debug)]
pub struct CpuQuota {
    log: UndoLog,
    dir: PathBuf,
    ctx: CgroupContext,
    limit: CpuLimit,
    final_stats: Option<ThrottleStats>,
}

impl CpuQuota {
    /// Put threads `tids` of `pid` into a new cpu cgroup `name` limited to
    /// `limit`. v1: child of the cpu hierarchy root with `cpu.cfs_period_us`
    /// and `cpu.cfs_quota_us`; v2: threaded child of the process's cgroup
    /// with `cpu.max` (enabling `+cpu` in the parent if needed). Threads with
    /// a real-time policy cannot join a v1 cgroup without `cpu.rt_runtime_us`;
    /// QEMU vCPU threads normally are SCHED_OTHER. On error, undone.
    pub fn apply(ctx: &CgroupContext, name: &str, pid: u32, tids: &[u32], limit: CpuLimit) -> Result<Self, CgroupError> {
        check_name(name)?;
        check_tids(tids)?;
        limit.check()?;
        let (quota, period) = (limit.quota_us(), limit.period_us);
        let (log, dir) = setup(ctx, |log| match ctx.hierarchy {
            Hierarchy::V1 { .. } => v1::cpu_quota(ctx, log, name, pid, tids, quota, period),
            Hierarchy::V2 { .. } => v2::cpu_quota(ctx, log, name, pid, tids, quota, period),
        })?;
        Ok(CpuQuota { log, dir, ctx: ctx.clone(), limit, final_stats: None })
    }

    /// The cgroup directory holding the limited threads.
    pub fn cgroup_dir(&self) -> &Path {
        &self.dir
    }

    /// The limit applied.
    pub fn limit(&self) -> CpuLimit {
        self.limit
    }

    /// Current throttling counters from the cgroup's `cpu.stat`.
    pub fn stats(&self) -> Result<ThrottleStats, CgroupError> {
        match self.ctx.hierarchy {
            Hierarchy::V1 { .. } => v1::cpu_stats(&self.ctx, &self.dir),
            Hierarchy::V2 { .. } => v2::cpu_stats(&self.ctx, &self.dir),
        }
    }

    /// Read the final counters, then release; see [`release`](Self::release).
    pub fn finish(mut self) -> Result<ThrottleStats, CgroupError> {
        self.release()
    }

    /// Read the final throttling counters, then lift the limit, move the
    /// threads back to their previous cgroups, undo controller changes and
    /// remove the cgroup. Idempotent: a later call does nothing and returns
    /// the counters read by the first. Release is attempted even if reading
    /// the counters fails; the first error is returned.
    pub fn release(&mut self) -> Result<ThrottleStats, CgroupError> {
        if self.log.steps.is_empty() {
            return Ok(self.final_stats.unwrap_or_default());
        }
        let stats = self.stats();
        if let Ok(s) = &stats {
            self.final_stats = Some(*s);
        }
        self.log.release()?;
        stats
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        release_on_drop(&mut self.log);
    }
}
