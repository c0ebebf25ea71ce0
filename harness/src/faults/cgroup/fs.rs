//! The four filesystem operations the injectors need, behind a trait so tests
//! can emulate what the kernel does inside cgroupfs (state transitions, rmdir
//! of a directory that still shows its control files) on a plain tempdir.

use std::fmt::Debug;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::error::{write_error, CgroupError};

/// Filesystem access used on cgroupfs. [`RealFs`] is the only production impl.
pub trait CgroupFs: Debug + Send + Sync {
    /// Write `value` to an existing control file (one `write(2)`, no create).
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Read a whole control file.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Create a cgroup directory (`mkdir(2)`).
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// Remove a cgroup directory (`rmdir(2)`).
    fn rmdir(&self, path: &Path) -> io::Result<()>;
}

/// Plain std::fs access, for the real `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl CgroupFs for RealFs {
    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        // cgroupfs takes each write(2) as one command, so write it in one go.
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.write_all(value.as_bytes())
    }
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
}

/// How often state files are re-read while waiting for a transition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Write `value` to `path`, turning failures into a [`CgroupError`] naming both.
pub(crate) fn write(fs: &dyn CgroupFs, path: &Path, value: &str) -> Result<(), CgroupError> {
    fs.write(path, value).map_err(|e| write_error(path.to_path_buf(), value, e))
}

/// Read `path`, turning failures into a [`CgroupError`] naming it.
pub(crate) fn read(fs: &dyn CgroupFs, path: &Path) -> Result<String, CgroupError> {
    fs.read(path).map_err(|source| CgroupError::Read { path: path.to_path_buf(), source })
}

/// Create a cgroup directory; an existing one is reported, not reused.
pub(crate) fn mkdir(fs: &dyn CgroupFs, path: &Path) -> Result<(), CgroupError> {
    fs.mkdir(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            CgroupError::AlreadyExists { path: path.to_path_buf() }
        } else {
            CgroupError::Mkdir { path: path.to_path_buf(), source }
        }
    })
}

/// Remove a cgroup directory, retrying briefly on EBUSY (the kernel may take
/// a moment to see the last task leave). A missing directory counts as removed.
pub(crate) fn rmdir(fs: &dyn CgroupFs, path: &Path) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        match fs.rmdir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            Err(source) => return Err(CgroupError::Rmdir { path: path.to_path_buf(), source }),
        }
    }
}

/// Poll `path` until `done(content)` holds or `timeout` passes.
pub(crate) fn poll_until(fs: &dyn CgroupFs, path: &Path, want: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<(), CgroupError> {
    let deadline = Instant::now() + timeout;
    loop {
        let content = read(fs, path)?;
        if done(&content) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CgroupError::Timeout { path: PathBuf::from(path), want: want.to_string(), last: content.trim().to_string(), timeout });
        }
        thread::sleep(POLL_INTERVAL);
    }
}
