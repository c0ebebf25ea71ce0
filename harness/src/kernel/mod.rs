//! Guest kernel handling: finding a bzImage to boot, caching Debian's cloud
//! kernel, and working out which loadable modules the guest needs.
//!
//! * [`read_release`] reads the release string out of an x86 bzImage header.
//! * [`discover`] picks the kernel to boot (flag, env, cache, host `/boot`).
//! * [`KernelCache`] is the per-user cache of fetched kernels.
//! * [`fetch_debian_kernel`] fills the cache from a Debian mirror.
//! * [`module_load_order`] resolves `.ko` dependencies for the initramfs.

mod bzimage;
mod cache;
mod discover;
mod error;
mod fetch;
mod modules;
pub mod profiles;
pub mod pvh;

pub use bzimage::read_release;
pub use cache::{CachedKernel, KernelCache, KernelMeta};
pub use discover::{discover, host_release, ENV_VAR};
pub use error::KernelError;
pub use fetch::{
    fetch_debian_kernel, parse_deb_filename, parse_image_depends, split_packages, DEFAULT_FLAVOUR, DEFAULT_MIRROR, DEFAULT_SUITE, FLAVOURS, KEYRING,
};
pub use modules::{module_load_order, parse_modinfo_depends, ModuleFile, NETWORK_MODULES, VIRTIO_CONSOLE_MODULES};

use serde::Serialize;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A guest kernel that has been located and checked, ready to boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelImage {
    /// Path of the bzImage file.
    pub path: PathBuf,
    /// Kernel release read from the bzImage header, e.g. `6.1.0-50-cloud-amd64`.
    pub release: String,
    /// SHA-256 of the bzImage file, lowercase hex.
    pub sha256: String,
    /// Size of the bzImage file in bytes.
    pub size: u64,
    /// Where the kernel was found.
    pub origin: KernelOrigin,
    /// Directory holding the kernel's loadable modules (the equivalent of
    /// `/lib/modules/<release>`), if one is known to exist.
    pub modules_dir: Option<PathBuf>,
}

/// Where a [`KernelImage`] came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelOrigin {
    /// The `--kernel PATH` command-line flag.
    Flag,
    /// The `CLOCKSTORM_KERNEL` environment variable.
    Env,
    /// An entry of the per-user kernel cache.
    Cache {
        /// Name of the cache entry, e.g. `debian-bookworm-cloud-amd64`.
        name: String,
    },
    /// The host's own `/boot/vmlinuz-<uname -r>`.
    Boot,
    /// A name the fake backend only reports: no kernel is read or booted.
    Fake,
}

impl fmt::Display for KernelOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelOrigin::Flag => f.write_str("--kernel flag"),
            KernelOrigin::Env => write!(f, "{ENV_VAR} environment variable"),
            KernelOrigin::Cache { name } => write!(f, "kernel cache entry {name}"),
            KernelOrigin::Boot => f.write_str("host /boot"),
            KernelOrigin::Fake => f.write_str("fake backend (not booted)"),
        }
    }
}

/// Streams a file through SHA-256; returns (lowercase hex digest, size in bytes).
pub fn sha256_file(path: &Path) -> Result<(String, u64), KernelError> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path).map_err(|e| KernelError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| KernelError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let (hex, size) = sha256_file(&p).unwrap();
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(size, 3);
    }

    #[test]
    fn origin_display_and_json() {
        let o = KernelOrigin::Cache { name: "debian-bookworm-cloud-amd64".into() };
        assert_eq!(o.to_string(), "kernel cache entry debian-bookworm-cloud-amd64");
        assert_eq!(serde_json::to_string(&o).unwrap(), r#"{"kind":"cache","name":"debian-bookworm-cloud-amd64"}"#);
        assert_eq!(serde_json::to_string(&KernelOrigin::Flag).unwrap(), r#"{"kind":"flag"}"#);
    }
}
