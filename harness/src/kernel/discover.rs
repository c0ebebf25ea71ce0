//! Choosing the guest kernel to boot.

use super::{read_release, sha256_file, KernelCache, KernelError, KernelImage, KernelOrigin};
use std::ffi::{CStr, OsStr};
use std::path::{Path, PathBuf};

/// Environment variable naming a guest kernel bzImage.
pub const ENV_VAR: &str = "CLOCKSTORM_KERNEL";

/// Where a host kernel's modules live.
const LIB_MODULES: &str = "/lib/modules";

/// Finds the guest kernel to boot. Order:
///
/// 1. `flag` (`--kernel PATH`);
/// 2. `env` (the value of `CLOCKSTORM_KERNEL`; empty counts as unset);
/// 3. the cache's default entry ([`KernelCache::newest`]), checksum-verified;
/// 4. `<boot_dir>/vmlinuz-<host_release>` if it exists and can be opened.
///
/// A flag or env path that is missing or not a bzImage is an error
/// ([`KernelError::Selected`]); so is a corrupt cache entry or a host kernel
/// that is readable but not a bzImage. An unreadable host kernel (e.g. mode
/// 0600 for a non-root user) is skipped. If nothing applies the result is
/// [`KernelError::NoneFound`], listing what was looked at.
///
/// `modules_dir` is filled from `/lib/modules/<release>` when that exists
/// (cache entries prefer their own `modules/`).
pub fn discover(flag: Option<&Path>, env: Option<&OsStr>, cache: &KernelCache, host_release: &str, boot_dir: &Path) -> Result<KernelImage, KernelError> {
    discover_in(flag, env, cache, host_release, boot_dir, Path::new(LIB_MODULES))
}

/// [`discover`] with the `/lib/modules` directory as a parameter.
pub(crate) fn discover_in(
    flag: Option<&Path>,
    env: Option<&OsStr>,
    cache: &KernelCache,
    host_release: &str,
    boot_dir: &Path,
    lib_modules: &Path,
) -> Result<KernelImage, KernelError> {
    let mut looked = Vec::new();

    if let Some(p) = flag {
        return from_path(p, KernelOrigin::Flag, lib_modules);
    }
    looked.push("--kernel flag (not given)".to_string());

    match env.filter(|v| !v.is_empty()) {
        Some(v) => return from_path(Path::new(v), KernelOrigin::Env, lib_modules),
        None => looked.push(format!("{ENV_VAR} (not set)")),
    }

    match cache.newest()? {
        Some(entry) => return entry.to_image(lib_modules),
        None => looked.push(format!("kernel cache {} (no entries)", cache.root().display())),
    }

    let boot = boot_dir.join(format!("vmlinuz-{host_release}"));
    match std::fs::File::open(&boot) {
        Ok(_) => return from_path(&boot, KernelOrigin::Boot, lib_modules),
        Err(e) => looked.push(format!("{} ({e})", boot.display())),
    }

    Err(KernelError::NoneFound { cache_dir: cache.root().to_path_buf(), looked })
}

/// Builds a [`KernelImage`] for an explicitly named file.
fn from_path(path: &Path, origin: KernelOrigin, lib_modules: &Path) -> Result<KernelImage, KernelError> {
    let wrap = |e: KernelError| match origin {
        KernelOrigin::Flag | KernelOrigin::Env => KernelError::Selected { origin: origin.to_string(), source: Box::new(e) },
        _ => e,
    };
    let release = read_release(path).map_err(wrap)?;
    let (sha256, size) = sha256_file(path).map_err(wrap)?;
    let host_mods: PathBuf = lib_modules.join(&release);
    Ok(KernelImage { path: path.to_path_buf(), release, sha256, size, modules_dir: host_mods.is_dir().then_some(host_mods), origin })
}

/// The host's kernel release (`uname -r`), via `libc::uname`; empty if uname fails.
pub fn host_release() -> String {
    // SAFETY: utsname is plain old data; uname fills it with NUL-terminated strings.
    unsafe {
        let mut uts: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut uts) != 0 {
            return String::new();
        }
        CStr::from_ptr(uts.release.as_ptr()).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::bzimage::synthetic_bzimage;
    use super::super::cache::write_test_entry;
    use super::*;
    use std::fs;

    struct Env {
        dir: tempfile::TempDir,
    }
    impl Env {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            for d in ["cache", "boot", "libmods"] {
                fs::create_dir_all(dir.path().join(d)).unwrap();
            }
            Env { dir }
        }
        fn p(&self, rel: &str) -> PathBuf {
            self.dir.path().join(rel)
        }
        fn cache(&self) -> KernelCache {
            KernelCache::new(self.p("cache"))
        }
        fn kernel(&self, rel: &str, release: &str) -> PathBuf {
            let p = self.p(rel);
            fs::write(&p, synthetic_bzimage(&format!("{release} #1"))).unwrap();
            p
        }
        fn run(&self, flag: Option<&Path>, env: Option<&OsStr>) -> Result<KernelImage, KernelError> {
            discover_in(flag, env, &self.cache(), "6.1.0-host", &self.p("boot"), &self.p("libmods"))
        }
    }

    #[test]
    fn flag_wins_over_everything() {
        let e = Env::new();
        let f = e.kernel("flag-k", "6.1.0-flag");
        let v = e.kernel("env-k", "6.1.0-env");
        write_test_entry(&e.p("cache"), "c", "6.1.0-cache");
        fs::create_dir_all(e.p("libmods/6.1.0-flag")).unwrap();
        let img = e.run(Some(&f), Some(v.as_os_str())).unwrap();
        assert_eq!((img.release.as_str(), img.origin), ("6.1.0-flag", KernelOrigin::Flag));
        assert_eq!(img.modules_dir, Some(e.p("libmods/6.1.0-flag")));
        assert_eq!(img.size, fs::metadata(&f).unwrap().len());
    }

    #[test]
    fn env_then_cache_then_boot() {
        let e = Env::new();
        let v = e.kernel("env-k", "6.1.0-env");
        e.kernel("boot/vmlinuz-6.1.0-host", "6.1.0-host");
        assert_eq!(e.run(None, Some(v.as_os_str())).unwrap().origin, KernelOrigin::Env);
        // empty env counts as unset; empty cache -> boot
        let img = e.run(None, Some(OsStr::new(""))).unwrap();
        assert_eq!((img.release.as_str(), img.origin), ("6.1.0-host", KernelOrigin::Boot));
        assert_eq!(img.modules_dir, None);
        write_test_entry(&e.p("cache"), "c", "6.1.0-cache");
        let img = e.run(None, None).unwrap();
        assert_eq!(img.origin, KernelOrigin::Cache { name: "c".into() });
        assert_eq!(img.path, e.p("cache/c/vmlinuz"));
    }

    #[test]
    fn bad_flag_or_env_does_not_fall_through() {
        let e = Env::new();
        write_test_entry(&e.p("cache"), "c", "6.1.0-cache");
        let missing = e.p("nope");
        let err = e.run(Some(&missing), None).unwrap_err();
        assert!(err.to_string().contains("--kernel flag") && err.to_string().contains("nope"), "{err}");
        fs::write(e.p("junk"), b"not a kernel").unwrap();
        let err = e.run(None, Some(e.p("junk").as_os_str())).unwrap_err();
        assert!(err.to_string().contains("CLOCKSTORM_KERNEL"), "{err}");
        assert!(err.to_string().contains("not an x86 bzImage"), "{err}");
    }

    #[test]
    fn corrupt_cache_entry_is_an_error() {
        let e = Env::new();
        let k = write_test_entry(&e.p("cache"), "c", "6.1.0-cache");
        fs::write(k.vmlinuz(), b"changed").unwrap();
        assert!(matches!(e.run(None, None), Err(KernelError::ChecksumMismatch { .. })));
    }

    #[test]
    fn nothing_found_lists_places() {
        let e = Env::new();
        let err = e.run(None, None).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, KernelError::NoneFound { .. }));
        assert!(msg.contains("clockstorm kernel fetch"), "{msg}");
        assert!(msg.contains("--kernel PATH") && msg.contains("CLOCKSTORM_KERNEL"), "{msg}");
        assert!(msg.contains(&e.p("cache").display().to_string()), "{msg}");
        assert!(msg.contains("vmlinuz-6.1.0-host"), "{msg}");
    }

    #[test]
    fn host_release_is_nonempty() {
        assert!(!host_release().is_empty());
    }
}
