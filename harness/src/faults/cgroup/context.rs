//! Where cgroupfs and procfs are, how to touch them, and how long to wait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::detect::{detect, Hierarchy, DEFAULT_CGROUP_ROOT};
use super::error::CgroupError;
use super::fs::{CgroupFs, RealFs};
use super::proc::DEFAULT_PROC_ROOT;

/// How long to wait for a freeze or thaw to take effect.
///
/// The kernel freezes a cgroup by signalling each task and waiting for it to
/// reach a freezer trap; for a handful of vCPU threads this takes well under
/// 10 ms (observed on the v1 host: a few ms). 2 s leaves ample room for a
/// thread stuck in a long uninterruptible syscall (e.g. an ioctl into KVM
/// or slow disk I/O) while still failing fast enough that a wedged freeze is
/// reported, thawed and cleaned up instead of hanging a run.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything the injectors need to know about the host (or a fake of it).
#[derive(Debug, Clone)]
pub struct CgroupContext {
    /// The detected cgroup layout and its root.
    pub hierarchy: Hierarchy,
    /// procfs root, normally `/proc`.
    pub proc_root: PathBuf,
    /// Filesystem access; [`RealFs`] unless a test substitutes a fake kernel.
    pub fs: Arc<dyn CgroupFs>,
    /// Freeze/thaw wait limit, [`FREEZE_TIMEOUT`] by default.
    pub timeout: Duration,
}

impl CgroupContext {
    /// Context for a given hierarchy and proc root, with real filesystem access.
    pub fn new(hierarchy: Hierarchy, proc_root: impl Into<PathBuf>) -> Self {
        CgroupContext { hierarchy, proc_root: proc_root.into(), fs: Arc::new(RealFs), timeout: FREEZE_TIMEOUT }
    }

    /// Detect the layout at `cgroup_root` and use `proc_root`.
    pub fn detect_at(cgroup_root: &Path, proc_root: &Path) -> Result<Self, CgroupError> {
        Ok(Self::new(detect(cgroup_root)?, proc_root))
    }

    /// The host's context: `/sys/fs/cgroup` and `/proc`.
    pub fn host() -> Result<Self, CgroupError> {
        Self::detect_at(Path::new(DEFAULT_CGROUP_ROOT), Path::new(DEFAULT_PROC_ROOT))
    }

    /// Replace the filesystem access (tests: a fake kernel over a tempdir).
    pub fn with_fs(mut self, fs: Arc<dyn CgroupFs>) -> Self {
        self.fs = fs;
        self
    }

    /// Replace the freeze/thaw wait limit.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Reject cgroup names that are empty or would escape the parent directory.
pub(crate) fn check_name(name: &str) -> Result<(), CgroupError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(CgroupError::InvalidArgument(format!("cgroup name {name:?} must be a single non-empty path component")));
    }
    Ok(())
}

/// Reject an empty thread list.
pub(crate) fn check_tids(tids: &[u32]) -> Result<(), CgroupError> {
    if tids.is_empty() {
        return Err(CgroupError::InvalidArgument("no thread ids given".into()));
    }
    Ok(())
}
