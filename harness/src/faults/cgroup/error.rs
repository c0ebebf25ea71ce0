//! Error type for the cgroup fault injectors.
//!
//! Every variant names the file or directory involved and, where a value was
//! written or read, that value, so a failed run says exactly what to fix.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while freezing or throttling threads via cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup v1 controller hierarchy is not mounted where expected.
    #[error("{controller} controller not mounted at {path} (cgroup v1): mount it or use a host with cgroup v2")]
    ControllerNotMounted {
        /// Controller name, e.g. `freezer`.
        controller: &'static str,
        /// Directory that should hold the hierarchy.
        path: PathBuf,
    },

    /// The root path holds neither a v2 nor a v1 layout.
    #[error("no cgroup hierarchy recognised at {root}: neither {root}/cgroup.controllers (cgroup v2) nor {root}/freezer or {root}/cpu directories (cgroup v1) exist; is cgroupfs mounted?")]
    UnknownHierarchy {
        /// The root that was inspected.
        root: PathBuf,
    },

    /// A controller is not available to the cgroup (v2 `cgroup.controllers`).
    #[error("{controller} controller not available in {path} (it reads {found:?}): enable +{controller} in the grandparent's cgroup.subtree_control or delegate it (systemd: Delegate=yes)")]
    ControllerUnavailable {
        /// Controller name, e.g. `cpu`.
        controller: &'static str,
        /// The `cgroup.controllers` file that was read.
        path: PathBuf,
        /// What it contained.
        found: String,
    },

    /// The kernel refused a write with EACCES/EPERM.
    #[error("permission denied writing {value} to {path} ({source}): run as root (or the kernel refused this migration across a delegation boundary)")]
    PermissionDenied {
        /// File written.
        path: PathBuf,
        /// Value written.
        value: String,
        /// Underlying error.
        source: io::Error,
    },

    /// A thread id written to a cgroup file does not exist (ESRCH).
    #[error("thread {tid} does not exist (ESRCH writing {tid} to {path}): did the process exit?")]
    NoSuchThread {
        /// The thread id.
        tid: u32,
        /// File written.
        path: PathBuf,
    },

    /// Any other failed write.
    #[error("writing {value:?} to {path} failed: {source}")]
    Write {
        /// File written.
        path: PathBuf,
        /// Value written.
        value: String,
        /// Underlying error.
        source: io::Error,
    },

    /// A failed read.
    #[error("reading {path} failed: {source}")]
    Read {
        /// File read.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },

    /// The cgroup directory to create already exists.
    #[error("cgroup directory {path} already exists (left over by an earlier run?): move its tasks out and rmdir it, or pick another name")]
    AlreadyExists {
        /// The directory.
        path: PathBuf,
    },

    /// mkdir of a cgroup failed.
    #[error("creating cgroup directory {path} failed: {source}")]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },

    /// rmdir of a cgroup failed.
    #[error("removing cgroup directory {path} failed: {source} (tasks still inside? see {path}/tasks or cgroup.threads)")]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },

    /// A state file never reached the wanted value.
    #[error("timed out after {timeout:?} waiting for {path} to read {want:?} (last read {last:?})")]
    Timeout {
        /// File polled.
        path: PathBuf,
        /// Value waited for.
        want: String,
        /// Last value seen.
        last: String,
        /// How long we waited.
        timeout: std::time::Duration,
    },

    /// cgroup v2: the process lives in the root cgroup, so no threaded child is possible.
    #[error("process {pid} sits in the root cgroup ({path} reads \"0::/\"): cgroup v2 can only move threads into a threaded child of the process's own non-root cgroup; start QEMU in its own cgroup, e.g. `systemd-run --scope -p Delegate=yes qemu-system-x86_64 ...`")]
    ProcessInRootCgroup {
        /// The process id.
        pid: u32,
        /// The `/proc/<pid>/cgroup` file read.
        path: PathBuf,
    },

    /// cgroup v2: the parent cannot become a threaded domain.
    #[error("cannot create threaded cgroup {path} (writing \"threaded\" to {path}/cgroup.type): {reason}")]
    ThreadedNotAllowed {
        /// The child cgroup directory.
        path: PathBuf,
        /// Why, in words, and what to do.
        reason: String,
    },

    /// A proc or cgroup file did not contain the expected line or field.
    #[error("unexpected content in {path}: {detail} (read {content:?})")]
    Parse {
        /// File read.
        path: PathBuf,
        /// What was missing or malformed.
        detail: String,
        /// What was read.
        content: String,
    },

    /// A caller passed an unusable argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// One or more undo steps failed during release.
    #[error("cgroup cleanup incomplete: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Cleanup(Vec<CgroupError>),
}

/// Build the error for a failed write, mapping errno to the specific variants.
pub(crate) fn write_error(path: PathBuf, value: &str, source: io::Error) -> CgroupError {
    match source.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => CgroupError::PermissionDenied { path, value: value.to_string(), source },
        Some(libc::ESRCH) => match value.trim().parse::<u32>() {
            Ok(tid) => CgroupError::NoSuchThread { tid, path },
            Err(_) => CgroupError::Write { path, value: value.to_string(), source },
        },
        _ => CgroupError::Write { path, value: value.to_string(), source },
    }
}
