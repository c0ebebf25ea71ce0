//! Decide whether a cgroup root is a v1 (per-controller) or v2 (unified) layout.

use std::path::{Path, PathBuf};

use super::error::CgroupError;

/// Where cgroupfs normally lives.
pub const DEFAULT_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Same as [`DEFAULT_CGROUP_ROOT`] (the name the run command uses).
pub const DEFAULT_ROOT: &str = DEFAULT_CGROUP_ROOT;

/// A detected cgroup layout and the root it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v1: one directory per controller (`<root>/freezer`, `<root>/cpu`, ...).
    V1 {
        /// The directory holding the controller mounts, e.g. `/sys/fs/cgroup`.
        root: PathBuf,
    },
    /// cgroup v2: one unified tree rooted at `root` (has `cgroup.controllers`).
    V2 {
        /// The unified mount, e.g. `/sys/fs/cgroup`.
        root: PathBuf,
    },
}

impl Hierarchy {
    /// The root directory this hierarchy was detected at.
    pub fn root(&self) -> &Path {
        match self {
            Hierarchy::V1 { root } | Hierarchy::V2 { root } => root,
        }
    }

    /// For v1: the mounted directory of `controller`, checked by the presence of
    /// its `tasks` file (an empty directory on a tmpfs is not a mount).
    pub fn v1_controller_dir(&self, controller: &'static str) -> Result<PathBuf, CgroupError> {
        let dir = self.root().join(controller);
        if dir.join("tasks").is_file() {
            Ok(dir)
        } else {
            Err(CgroupError::ControllerNotMounted { controller, path: dir })
        }
    }
}

/// Look at `root` and decide v1 vs v2.
///
/// v2 when `<root>/cgroup.controllers` is a file; v1 when `<root>/freezer` or
/// `<root>/cpu` is a directory. A hybrid host (v1 controllers plus a v2 tree at
/// `<root>/unified`) is reported as v1, since the controllers live there.
pub fn detect(root: &Path) -> Result<Hierarchy, CgroupError> {
    if root.join("cgroup.controllers").is_file() {
        return Ok(Hierarchy::V2 { root: root.to_path_buf() });
    }
    if root.join("freezer").is_dir() || root.join("cpu").is_dir() {
        return Ok(Hierarchy::V1 { root: root.to_path_buf() });
    }
    Err(CgroupError::UnknownHierarchy { root: root.to_path_buf() })
}
