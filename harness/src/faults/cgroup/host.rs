//! One-call entry points on the host's real cgroupfs and `/proc`, for the
//! fault injectors: detect the layout at `cgroup_root`, then set up.

use std::path::Path;

use super::context::CgroupContext;
use super::error::CgroupError;
use super::guard::{CpuLimit, CpuQuota, ThreadFreeze};
use super::proc::DEFAULT_PROC_ROOT;

/// The guard returned by [`freeze_threads`] (same type as [`ThreadFreeze`]).
pub type FrozenThreads = ThreadFreeze;

/// Freeze threads `tids` of `pid` in a cgroup called `name` under the
/// hierarchy detected at `cgroup_root` (normally `/sys/fs/cgroup`), reading
/// `/proc`. See [`ThreadFreeze::freeze`].
pub fn freeze_threads(cgroup_root: &Path, name: &str, pid: u32, tids: &[u32]) -> Result<FrozenThreads, CgroupError> {
    let ctx = CgroupContext::detect_at(cgroup_root, Path::new(DEFAULT_PROC_ROOT))?;
    ThreadFreeze::freeze(&ctx, name, pid, tids)
}

/// Limit threads `tids` of `pid` to `percent` % of one CPU (100 ms period) in
/// a cgroup called `name` under the hierarchy detected at `cgroup_root`.
/// [`CpuQuota::release`] returns the throttling counters. See [`CpuQuota::apply`].
pub fn cpu_quota(cgroup_root: &Path, name: &str, pid: u32, tids: &[u32], percent: impl Into<u32>) -> Result<CpuQuota, CgroupError> {
    let ctx = CgroupContext::detect_at(cgroup_root, Path::new(DEFAULT_PROC_ROOT))?;
    CpuQuota::apply(&ctx, name, pid, tids, CpuLimit::percent(percent.into()))
}
