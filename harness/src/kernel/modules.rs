//! Resolving loadable-module dependencies for the guest initramfs.
//!
//! Dependencies are read from the module's `.modinfo` ELF section, which is a
//! sequence of NUL-terminated `key=value` strings, one of which is
//! `depends=a,b`. Rather than parsing the ELF, we scan the whole file for the
//! byte string `\0depends=` (or `depends=` at offset 0) and take the value up
//! to the next NUL. That string does not occur elsewhere in real modules.

use super::KernelError;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Modules the guest needs for the virtio-console data channel on a Debian
/// cloud kernel (their dependencies are pulled in by [`module_load_order`]).
///
/// `virtio_pci` is listed explicitly: `virtio_console` only depends on
/// `virtio` and `virtio_ring`, but without the PCI transport (a module on
/// Debian's bookworm cloud kernel) no virtio device is ever probed.
pub const VIRTIO_CONSOLE_MODULES: &[&str] = &["virtio_pci", "virtio_console"];

/// Modules the guest network needs (`[guest] time_service`: QEMU's
/// virtio-net-pci device); `virtio_pci` as for [`VIRTIO_CONSOLE_MODULES`].
pub const NETWORK_MODULES: &[&str] = &["virtio_pci", "virtio_net"];

/// A module file to load, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Module name, normalized to use '_' (e.g. `virtio_pci`).
    pub name: String,
    /// Path of the `.ko` file.
    pub path: PathBuf,
}

/// Returns the `.ko` files for `wanted` and all their dependencies, each
/// module after everything it depends on, without duplicates.
///
/// Modules are searched for (recursively) under `<modules_dir>/kernel/`;
/// '-' and '_' in names are treated as equal. Modules listed in
/// `<modules_dir>/modules.builtin` (if that file exists) are built into the
/// kernel and are skipped, unless a `.ko` for them exists. Compressed modules
/// (`.ko.xz`, `.ko.zst`, `.ko.gz`) are found but rejected with
/// [`KernelError::CompressedModule`]. A dependency cycle is reported as
/// [`KernelError::ModuleCycle`]. Without a `kernel/` directory the wanted
/// modules must all be built in (7.x cloud kernels build the virtio console
/// in; the cache keeps only their `modules.builtin`).
pub fn module_load_order(modules_dir: &Path, wanted: &[&str]) -> Result<Vec<ModuleFile>, KernelError> {
    let builtin = read_builtin(&modules_dir.join("modules.builtin"))?;
    let kernel_dir = modules_dir.join("kernel");
    if !kernel_dir.exists() && !builtin.is_empty() && wanted.iter().all(|w| builtin.contains(&normalize(w))) {
        return Ok(Vec::new());
    }
    let r = Resolver { index: index_modules(&kernel_dir)?, builtin, modules_dir };
    let mut order = Vec::new();
    let mut stack = Vec::new();
    for w in wanted {
        r.visit(&normalize(w), &mut stack, &mut order)?;
    }
    Ok(order)
}

/// Extracts the `depends=` list from a module's bytes (empty if none or empty).
/// Names are normalized to use '_'.
pub fn parse_modinfo_depends(bytes: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"depends=";
    let start = if bytes.starts_with(KEY) {
        Some(KEY.len())
    } else {
        bytes.windows(KEY.len() + 1).position(|w| w[0] == 0 && &w[1..] == KEY).map(|i| i + 1 + KEY.len())
    };
    let Some(start) = start else { return Vec::new() };
    let rest = &bytes[start..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end]).split(',').map(str::trim).filter(|s| !s.is_empty()).map(normalize).collect()
}

fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

struct Resolver<'a> {
    index: HashMap<String, PathBuf>,
    builtin: HashSet<String>,
    modules_dir: &'a Path,
}

impl Resolver<'_> {
    /// Depth-first post-order visit; `stack` holds the current dependency chain.
    fn visit(&self, name: &str, stack: &mut Vec<String>, order: &mut Vec<ModuleFile>) -> Result<(), KernelError> {
        if order.iter().any(|m| m.name == name) {
            return Ok(());
        }
        if let Some(pos) = stack.iter().position(|s| s == name) {
            let mut chain = stack[pos..].to_vec();
            chain.push(name.to_string());
            return Err(KernelError::ModuleCycle { chain });
        }
        let Some(path) = self.index.get(name) else {
            if self.builtin.contains(name) {
                return Ok(());
            }
            return Err(KernelError::ModuleNotFound { name: name.into(), dir: self.modules_dir.join("kernel") });
        };
        if path.extension() != Some(std::ffi::OsStr::new("ko")) {
            return Err(KernelError::CompressedModule { path: path.clone() });
        }
        let bytes = fs::read(path).map_err(|e| KernelError::io(path, e))?;
        stack.push(name.to_string());
        for dep in parse_modinfo_depends(&bytes) {
            self.visit(&dep, stack, order)?;
        }
        stack.pop();
        order.push(ModuleFile { name: name.into(), path: path.clone() });
        Ok(())
    }
}

/// Names of built-in modules from a `modules.builtin` file (lines like
/// `kernel/drivers/virtio/virtio.ko`); empty if the file does not exist.
fn read_builtin(path: &Path) -> Result<HashSet<String>, KernelError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(KernelError::io(path, e)),
    };
    Ok(text.lines().filter_map(|l| l.trim().rsplit('/').next()).filter_map(|f| f.strip_suffix(".ko")).map(normalize).collect())
}

/// Maps normalized module name -> file, for every `.ko[.xz|.zst|.gz]` under `dir`.
/// An uncompressed file wins over a compressed one of the same name.
fn index_modules(dir: &Path) -> Result<HashMap<String, PathBuf>, KernelError> {
    let mut index = HashMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for ent in fs::read_dir(&d).map_err(|e| KernelError::io(&d, e))? {
            let ent = ent.map_err(|e| KernelError::io(&d, e))?;
            let path = ent.path();
            let ft = ent.file_type().map_err(|e| KernelError::io(&path, e))?;
            if ft.is_dir() {
                todo.push(path);
                continue;
            }
            let fname = ent.file_name().to_string_lossy().into_owned();
            let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"].iter().find_map(|suf| fname.strip_suffix(suf).map(|s| (s, *suf == ".ko")));
            if let Some((stem, plain)) = stem {
                let key = normalize(stem);
                if plain || !index.contains_key(&key) {
                    index.insert(key, path);
                }
            }
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ko(root: &Path, rel: &str, deps: &str) {
        let p = root.join("kernel").join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = b"\x7fELF junk\0license=GPL\0".to_vec();
        bytes.extend_from_slice(format!("depends={deps}\0vermagic=6.1\0").as_bytes());
        // `depends=` must be found after a NUL, so make sure we cover that path
        fs::write(p, bytes).unwrap();
    }

    fn names(v: &[ModuleFile]) -> Vec<&str> {
        v.iter().map(|m| m.name.as_str()).collect()
    }

    fn virtio_tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        ko(r, "drivers/virtio/virtio.ko", "");
        ko(r, "drivers/virtio/virtio_ring.ko", "virtio");
        ko(r, "drivers/virtio/virtio_pci_legacy_dev.ko", "");
        ko(r, "drivers/virtio/virtio_pci_modern_dev.ko", "");
        ko(r, "drivers/virtio/virtio_pci.ko", "virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio_ring,virtio");
        ko(r, "drivers/char/virtio_console.ko", "virtio,virtio_ring");
        d
    }

    #[test]
    fn parses_depends() {
        assert_eq!(parse_modinfo_depends(b"x\0depends=virtio,virtio_ring\0"), ["virtio", "virtio_ring"]);
        assert_eq!(parse_modinfo_depends(b"depends=a-b\0"), ["a_b"]);
        assert!(parse_modinfo_depends(b"x\0depends=\0").is_empty());
        assert!(parse_modinfo_depends(b"no deps here").is_empty());
        assert!(parse_modinfo_depends(b"xdepends=a\0").is_empty());
    }

    #[test]
    fn dependency_first_without_duplicates() {
        let d = virtio_tree();
        let order = module_load_order(d.path(), &["virtio_console", "virtio_pci", "virtio"]).unwrap();
        assert_eq!(names(&order), ["virtio", "virtio_ring", "virtio_console", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci"]);
        assert!(order[2].path.ends_with("kernel/drivers/char/virtio_console.ko"));
    }

    #[test]
    fn dash_and_underscore_are_equal() {
        let d = tempfile::tempdir().unwrap();
        ko(d.path(), "a/snd-foo.ko", "snd_bar");
        ko(d.path(), "a/snd_bar.ko", "");
        let order = module_load_order(d.path(), &["snd-foo"]).unwrap();
        assert_eq!(names(&order), ["snd_bar", "snd_foo"]);
    }

    #[test]
    fn cycle_is_reported() {
        let d = tempfile::tempdir().unwrap();
        ko(d.path(), "a.ko", "b");
        ko(d.path(), "b.ko", "c");
        ko(d.path(), "c.ko", "a");
        let err = module_load_order(d.path(), &["a"]).unwrap_err();
        assert!(matches!(err, KernelError::ModuleCycle { .. }));
        assert!(err.to_string().contains("a -> b -> c -> a"), "{err}");
    }

    #[test]
    fn missing_and_compressed_modules() {
        let d = virtio_tree();
        let err = module_load_order(d.path(), &["nonesuch"]).unwrap_err();
        assert!(err.to_string().contains("nonesuch"), "{err}");
        fs::write(d.path().join("kernel/zz.ko.xz"), b"").unwrap();
        let err = module_load_order(d.path(), &["zz"]).unwrap_err();
        assert!(matches!(err, KernelError::CompressedModule { .. }));
        assert!(err.to_string().contains("zz.ko.xz"), "{err}");
    }

    #[test]
    fn builtin_modules_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        ko(d.path(), "drivers/char/virtio_console.ko", "virtio,virtio_ring");
        fs::write(d.path().join("modules.builtin"), "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n").unwrap();
        let order = module_load_order(d.path(), &["virtio_console"]).unwrap();
        assert_eq!(names(&order), ["virtio_console"]);
    }

    #[test]
    fn missing_kernel_dir_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let err = module_load_order(d.path(), &["virtio"]).unwrap_err();
        assert!(err.to_string().contains("kernel"), "{err}");
    }

    #[test]
    fn without_a_kernel_dir_built_in_modules_need_nothing_and_others_are_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("modules.builtin"), "kernel/drivers/virtio/virtio.ko\nkernel/drivers/char/virtio_console.ko\n").unwrap();
        assert_eq!(module_load_order(d.path(), &["virtio", "virtio-console"]).unwrap(), vec![]);
        assert!(module_load_order(d.path(), &["virtio", "virtio_net"]).is_err());
    }
}
