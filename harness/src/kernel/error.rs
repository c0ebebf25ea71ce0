//! The error type shared by everything in the kernel module.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while finding, fetching or inspecting a guest kernel.
/// Every message names the path, value or command involved.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The file does not exist.
    #[error("kernel file {} does not exist", path.display())]
    Missing {
        /// The missing path.
        path: PathBuf,
    },
    /// An I/O operation on a path failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file lacks the `HdrS` setup-header magic.
    #[error("{} is not an x86 bzImage (no \"HdrS\" magic at offset 0x202)", path.display())]
    NotAKernel {
        /// The file that was checked.
        path: PathBuf,
    },
    /// The file has the bzImage magic but its header is unusable.
    #[error("bzImage {} has a bad setup header: {reason}", path.display())]
    BadHeader {
        /// The file that was checked.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A kernel named by the `--kernel` flag or `CLOCKSTORM_KERNEL` is unusable.
    #[error("kernel given by {origin} is unusable: {source}")]
    Selected {
        /// Where the kernel path came from (e.g. "--kernel flag").
        origin: String,
        /// Why it is unusable.
        #[source]
        source: Box<KernelError>,
    },
    /// `guest.boot = "pvh"` and the kernel cannot be entered there.
    #[error("guest.boot = \"pvh\": kernel {name} cannot boot at a PVH entry: {reason} (guest.boot = \"auto\" boots it as a bzImage)")]
    NoPvhBoot { name: String, reason: String },
    /// No kernel was found anywhere.
    #[error(
        "no guest kernel found: pass --kernel PATH, set CLOCKSTORM_KERNEL, or fetch Debian's \
         cloud kernel with `clockstorm kernel fetch` (looked at: {})",
        looked.join("; ")
    )]
    NoneFound {
        /// The kernel cache directory that was searched.
        cache_dir: PathBuf,
        /// Human-readable list of the places looked at and why each did not apply.
        looked: Vec<String>,
    },
    /// The per-user cache location could not be determined.
    #[error("cannot locate the kernel cache: none of CLOCKSTORM_CACHE, XDG_CACHE_HOME or HOME is set")]
    NoCacheLocation,
    /// A cache entry's `meta.json` is unreadable or malformed.
    #[error("bad kernel cache metadata {}: {reason}", path.display())]
    BadMeta {
        /// The `meta.json` path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A requested cache entry does not exist.
    #[error("kernel cache entry {name:?} not found in {}", cache_dir.display())]
    NoSuchEntry {
        /// The entry name asked for.
        name: String,
        /// The cache root.
        cache_dir: PathBuf,
    },
    /// A cached file's SHA-256 differs from its `meta.json`.
    #[error(
        "checksum mismatch for {}: meta.json says sha256 {expected}, file has {actual} \
         (delete the entry and run `clockstorm kernel fetch` again)",
        path.display()
    )]
    ChecksumMismatch {
        /// The file that was hashed.
        path: PathBuf,
        /// The digest recorded in `meta.json`.
        expected: String,
        /// The digest actually computed.
        actual: String,
    },
    /// An input value (suite, mirror, entry name, ...) is not acceptable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// Which input.
        what: &'static str,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A needed keyring file is missing.
    #[error("apt keyring {} is missing: install it with `apt-get install debian-archive-keyring`", path.display())]
    KeyringMissing {
        /// The keyring path.
        path: PathBuf,
    },
    /// A needed external program is not installed.
    #[error("required program `{program}` was not found in PATH: {hint}")]
    CommandMissing {
        /// The program name.
        program: String,
        /// What to install.
        hint: String,
    },
    /// An external command exited unsuccessfully.
    #[error("command `{command}` failed ({status}); stderr tail:\n{stderr_tail}")]
    CommandFailed {
        /// The full command line.
        command: String,
        /// The exit status as text.
        status: String,
        /// The last lines of its stderr.
        stderr_tail: String,
    },
    /// An external command's output could not be understood.
    #[error("could not understand output of `{command}`: {reason}")]
    UnexpectedOutput {
        /// The full command line.
        command: String,
        /// What was expected.
        reason: String,
    },
    /// A module's `.ko` file was not found.
    #[error("kernel module {name:?} not found under {}", dir.display())]
    ModuleNotFound {
        /// The module name (with '_').
        name: String,
        /// The directory searched.
        dir: PathBuf,
    },
    /// A module exists only in compressed form.
    #[error("kernel module {} is compressed; compressed modules (.ko.xz/.ko.zst/.ko.gz) are not supported yet", path.display())]
    CompressedModule {
        /// The compressed module file.
        path: PathBuf,
    },
    /// Module dependencies form a cycle.
    #[error("kernel module dependency cycle: {}", chain.join(" -> "))]
    ModuleCycle {
        /// The modules in the cycle, in order, first repeated at the end.
        chain: Vec<String>,
    },
}

impl KernelError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        KernelError::Io { path: path.to_path_buf(), source }
    }

    /// True when the user named a kernel that is unusable (a usage error),
    /// as opposed to the host lacking one (an environment error).
    pub fn is_bad_user_input(&self) -> bool {
        matches!(self, KernelError::Selected { .. } | KernelError::InvalidInput { .. } | KernelError::NoSuchEntry { .. } | KernelError::NoPvhBoot { .. })
    }
}
