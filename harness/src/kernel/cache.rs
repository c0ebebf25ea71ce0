//! The per-user cache of fetched guest kernels.
//!
//! Layout, one directory per entry:
//!
//! ```text
//! <root>/default                      optional: name of the default entry
//! <root>/<name>/vmlinuz               the bzImage
//! <root>/<name>/meta.json             KernelMeta
//! <root>/<name>/modules/              optional: subset of lib/modules/<release>
//! ```
//!
//! Directories whose names start with `.` are in-progress or stale
//! staging directories and are ignored.

use super::{sha256_file, KernelError, KernelImage, KernelOrigin};
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Contents of a cache entry's `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelMeta {
    /// Entry name, e.g. `debian-bookworm-cloud-amd64`.
    pub name: String,
    /// Kernel release, e.g. `6.1.0-50-cloud-amd64`.
    pub release: String,
    /// Debian package the kernel came from, e.g. `linux-image-6.1.0-50-cloud-amd64`.
    pub package: String,
    /// That package's version, e.g. `6.1.164-1`.
    pub package_version: String,
    /// Debian suite, e.g. `bookworm`.
    pub suite: String,
    /// Debian kernel flavour, e.g. `cloud` or `rt` (entries fetched before
    /// flavours existed are cloud kernels).
    #[serde(default = "cloud")]
    pub flavour: String,
    /// SHA-256 of `vmlinuz`, lowercase hex.
    pub sha256: String,
    /// Size of `vmlinuz` in bytes.
    pub size: u64,
    /// When the entry was fetched, Unix seconds.
    pub fetched_at: u64,
    /// Whether the entry holds the guest network's modules
    /// ([`super::NETWORK_MODULES`], for `[guest] time_service`): entries
    /// fetched before they were kept do not (fetch again).
    #[serde(default)]
    pub network_modules: bool,
}

fn cloud() -> String {
    "cloud".into()
}

/// One entry of the [`KernelCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedKernel {
    /// The entry's directory, `<root>/<name>`.
    pub dir: PathBuf,
    /// The parsed `meta.json`.
    pub meta: KernelMeta,
}

impl CachedKernel {
    /// Path of the entry's bzImage.
    pub fn vmlinuz(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }

    /// The entry's `modules/` directory, if it exists.
    pub fn modules_dir(&self) -> Option<PathBuf> {
        let m = self.dir.join("modules");
        m.is_dir().then_some(m)
    }

    /// Hashes `vmlinuz` and checks it against `meta.json`
    /// ([`KernelError::ChecksumMismatch`] naming the file on mismatch).
    pub fn verify(&self) -> Result<(), KernelError> {
        let path = self.vmlinuz();
        let (actual, _) = sha256_file(&path).map_err(|e| match e {
            KernelError::Io { source, .. } if source.kind() == ErrorKind::NotFound => KernelError::Missing { path: path.clone() },
            other => other,
        })?;
        if actual != self.meta.sha256 {
            return Err(KernelError::ChecksumMismatch { path, expected: self.meta.sha256.clone(), actual });
        }
        Ok(())
    }

    /// Verifies the checksum and turns the entry into a bootable [`KernelImage`].
    /// `modules_dir` is the entry's `modules/` if present, else
    /// `<lib_modules>/<release>` if that exists.
    pub fn to_image(&self, lib_modules: &Path) -> Result<KernelImage, KernelError> {
        self.verify()?;
        let modules_dir = self.modules_dir().or_else(|| {
            let host = lib_modules.join(&self.meta.release);
            host.is_dir().then_some(host)
        });
        Ok(KernelImage {
            path: self.vmlinuz(),
            release: self.meta.release.clone(),
            sha256: self.meta.sha256.clone(),
            size: self.meta.size,
            origin: KernelOrigin::Cache { name: self.meta.name.clone() },
            modules_dir,
        })
    }
}

/// The per-user kernel cache rooted at a directory (see the module docs for the layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCache {
    root: PathBuf,
}

impl KernelCache {
    /// A cache rooted at `root` (need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        KernelCache { root: root.into() }
    }

    /// The cache at its default location, from the process environment; see
    /// [`KernelCache::location_from`].
    pub fn default_location() -> Result<Self, KernelError> {
        let var = std::env::var_os;
        Self::location_from(var("CLOCKSTORM_CACHE").as_deref(), var("XDG_CACHE_HOME").as_deref(), var("HOME").as_deref()).map(Self::new)
    }

    /// Pure form of [`KernelCache::default_location`]: `$CLOCKSTORM_CACHE/kernels`,
    /// else `$XDG_CACHE_HOME/clockstorm/kernels`, else `$HOME/.cache/clockstorm/kernels`.
    /// Empty values count as unset.
    pub fn location_from(clockstorm_cache: Option<&OsStr>, xdg_cache_home: Option<&OsStr>, home: Option<&OsStr>) -> Result<PathBuf, KernelError> {
        let set = |v: Option<&OsStr>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
        if let Some(p) = set(clockstorm_cache) {
            Ok(p.join("kernels"))
        } else if let Some(p) = set(xdg_cache_home) {
            Ok(p.join("clockstorm").join("kernels"))
        } else if let Some(p) = set(home) {
            Ok(p.join(".cache").join("clockstorm").join("kernels"))
        } else {
            Err(KernelError::NoCacheLocation)
        }
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All entries (directories holding a `meta.json`), sorted by name.
    /// A missing cache root yields an empty list; a malformed `meta.json` is an error.
    pub fn list(&self) -> Result<Vec<CachedKernel>, KernelError> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KernelError::io(&self.root, e)),
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| KernelError::io(&self.root, e))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            let dir = ent.path();
            if name.starts_with('.') || !dir.is_dir() || !dir.join("meta.json").is_file() {
                continue;
            }
            out.push(self.load(&name)?);
        }
        out.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
        Ok(out)
    }

    /// The entry called `name` ([`KernelError::NoSuchEntry`] if absent).
    pub fn get(&self, name: &str) -> Result<CachedKernel, KernelError> {
        validate_entry_name(name)?;
        if !self.root.join(name).join("meta.json").is_file() {
            return Err(KernelError::NoSuchEntry { name: name.into(), cache_dir: self.root.clone() });
        }
        self.load(name)
    }

    fn load(&self, name: &str) -> Result<CachedKernel, KernelError> {
        let dir = self.root.join(name);
        let meta_path = dir.join("meta.json");
        let text = fs::read_to_string(&meta_path).map_err(|e| KernelError::io(&meta_path, e))?;
        let meta: KernelMeta = serde_json::from_str(&text).map_err(|e| KernelError::BadMeta { path: meta_path.clone(), reason: e.to_string() })?;
        if meta.name != name {
            return Err(KernelError::BadMeta { path: meta_path, reason: format!("name field {:?} does not match directory name {name:?}", meta.name) });
        }
        Ok(CachedKernel { dir, meta })
    }

    /// Name stored in `<root>/default`, if that file exists (trimmed; empty = none).
    pub fn default_name(&self) -> Result<Option<String>, KernelError> {
        let p = self.root.join("default");
        match fs::read_to_string(&p) {
            Ok(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(KernelError::io(&p, e)),
        }
    }

    /// Makes `name` the default entry by (atomically) writing `<root>/default`.
    /// The entry must exist.
    pub fn set_default(&self, name: &str) -> Result<(), KernelError> {
        self.get(name)?;
        let p = self.root.join("default");
        let tmp = self.root.join(format!(".default.{}", std::process::id()));
        fs::write(&tmp, format!("{name}\n")).map_err(|e| KernelError::io(&tmp, e))?;
        fs::rename(&tmp, &p).map_err(|e| KernelError::io(&p, e))
    }

    /// The entry to use when none is named. Rule: the entry named by
    /// `<root>/default` if that entry exists; otherwise the entry whose name
    /// sorts highest (byte order). `None` if the cache is empty.
    /// Does not verify checksums (see [`CachedKernel::verify`]).
    pub fn newest(&self) -> Result<Option<CachedKernel>, KernelError> {
        let mut all = self.list()?;
        if let Some(def) = self.default_name()? {
            if let Some(i) = all.iter().position(|k| k.meta.name == def) {
                return Ok(Some(all.swap_remove(i)));
            }
        }
        Ok(all.pop())
    }
}

/// Entry names must be a single plain path component: `[A-Za-z0-9._-]`, not starting with `.`.
pub(crate) fn validate_entry_name(name: &str) -> Result<(), KernelError> {
    let ok = !name.is_empty() && !name.starts_with('.') && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(KernelError::InvalidInput {
            what: "kernel cache entry name",
            value: name.into(),
            reason: "use only letters, digits, '.', '_' and '-', not starting with '.'".into(),
        })
    }
}

/// Writes a cache entry with a synthetic kernel (test helper).
#[cfg(test)]
pub(crate) fn write_test_entry(root: &Path, name: &str, release: &str) -> CachedKernel {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    let img = super::bzimage::synthetic_bzimage(&format!("{release} #1 SMP"));
    fs::write(dir.join("vmlinuz"), &img).unwrap();
    let (sha256, size) = sha256_file(&dir.join("vmlinuz")).unwrap();
    let meta = KernelMeta {
        name: name.into(),
        release: release.into(),
        package: format!("linux-image-{release}"),
        package_version: "1.0-1".into(),
        suite: "bookworm".into(),
        flavour: "cloud".into(),
        sha256,
        size,
        fetched_at: 1,
        network_modules: false,
    };
    fs::write(dir.join("meta.json"), serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    CachedKernel { dir, meta }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_precedence() {
        let s = |v: &str| Some(OsStr::new(v).to_owned());
        let loc = |a: Option<std::ffi::OsString>, b: Option<std::ffi::OsString>, c: Option<std::ffi::OsString>| {
            KernelCache::location_from(a.as_deref(), b.as_deref(), c.as_deref())
        };
        assert_eq!(loc(s("/c"), s("/x"), s("/h")).unwrap(), PathBuf::from("/c/kernels"));
        assert_eq!(loc(s(""), s("/x"), s("/h")).unwrap(), PathBuf::from("/x/clockstorm/kernels"));
        assert_eq!(loc(None, None, s("/h")).unwrap(), PathBuf::from("/h/.cache/clockstorm/kernels"));
        assert!(matches!(loc(None, None, None), Err(KernelError::NoCacheLocation)));
    }

    #[test]
    fn list_sorted_and_skips_staging_dirs() {
        let d = tempfile::tempdir().unwrap();
        write_test_entry(d.path(), "debian-trixie-cloud-amd64", "6.12.0-1-cloud-amd64");
        write_test_entry(d.path(), "debian-bookworm-cloud-amd64", "6.1.0-50-cloud-amd64");
        fs::create_dir_all(d.path().join(".staging-x")).unwrap();
        fs::create_dir_all(d.path().join("no-meta")).unwrap();
        let names: Vec<_> = KernelCache::new(d.path()).list().unwrap().into_iter().map(|k| k.meta.name).collect();
        assert_eq!(names, ["debian-bookworm-cloud-amd64", "debian-trixie-cloud-amd64"]);
    }

    #[test]
    fn missing_root_lists_empty() {
        let d = tempfile::tempdir().unwrap();
        let c = KernelCache::new(d.path().join("absent"));
        assert!(c.list().unwrap().is_empty());
        assert!(c.newest().unwrap().is_none());
    }

    #[test]
    fn newest_prefers_default_file_then_highest_name() {
        let d = tempfile::tempdir().unwrap();
        let c = KernelCache::new(d.path());
        write_test_entry(d.path(), "a-entry", "6.1.0-a");
        write_test_entry(d.path(), "b-entry", "6.1.0-b");
        assert_eq!(c.newest().unwrap().unwrap().meta.name, "b-entry");
        c.set_default("a-entry").unwrap();
        assert_eq!(c.default_name().unwrap().as_deref(), Some("a-entry"));
        assert_eq!(c.newest().unwrap().unwrap().meta.name, "a-entry");
        fs::write(d.path().join("default"), "gone\n").unwrap();
        assert_eq!(c.newest().unwrap().unwrap().meta.name, "b-entry");
        assert!(matches!(c.set_default("nope"), Err(KernelError::NoSuchEntry { .. })));
    }

    #[test]
    fn verify_detects_tampering() {
        let d = tempfile::tempdir().unwrap();
        let k = write_test_entry(d.path(), "e", "6.1.0-e");
        k.verify().unwrap();
        fs::write(k.vmlinuz(), b"tampered").unwrap();
        let err = k.verify().unwrap_err();
        assert!(matches!(err, KernelError::ChecksumMismatch { .. }), "{err}");
        assert!(err.to_string().contains("vmlinuz"), "{err}");
    }

    #[test]
    fn bad_meta_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("x")).unwrap();
        fs::write(d.path().join("x/meta.json"), "{not json").unwrap();
        let err = KernelCache::new(d.path()).list().unwrap_err();
        assert!(err.to_string().contains("meta.json"), "{err}");
    }

    #[test]
    fn to_image_prefers_entry_modules_dir() {
        let d = tempfile::tempdir().unwrap();
        let k = write_test_entry(d.path(), "e", "6.1.0-e");
        let libmods = d.path().join("lib-modules");
        fs::create_dir_all(libmods.join("6.1.0-e")).unwrap();
        assert_eq!(k.to_image(&libmods).unwrap().modules_dir, Some(libmods.join("6.1.0-e")));
        fs::create_dir_all(k.dir.join("modules")).unwrap();
        let img = k.to_image(&libmods).unwrap();
        assert_eq!(img.modules_dir, Some(k.dir.join("modules")));
        assert_eq!(img.origin, KernelOrigin::Cache { name: "e".into() });
    }
}
