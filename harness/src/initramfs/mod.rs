//! The guest's initramfs: the static probe as `/init`, the run's probe
//! config, and any kernel modules the data channel needs. Built in Rust,
//! byte-for-byte reproducible, cached under its content hash.

mod cpio;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use clockstorm_protocol::CONFIG_PATH_IN_GUEST;
pub use cpio::{write_newc, Entry};
use sha2::{Digest, Sha256};

/// Archives kept in the cache; older ones (by last use) are removed. Every
/// distinct probe config makes its own archive (~1.7 MB), so without a bound
/// the cache would grow with every new duration or scenario.
pub const MAX_CACHED_ARCHIVES: usize = 16;

/// Where module files go inside the initramfs.
pub const MODULE_DIR_IN_GUEST: &str = "/clockstorm/modules";

/// Errors writing an initramfs to its cache.
#[derive(Debug, thiserror::Error)]
pub enum InitramfsError {
    #[error("writing initramfs {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// What goes into one initramfs.
pub struct Contents<'a> {
    pub probe: &'a [u8],
    pub config_json: &'a [u8],
    /// (file name, bytes) in load order; they land in [`MODULE_DIR_IN_GUEST`].
    pub modules: &'a [(String, Vec<u8>)],
    /// Anything else the run's guest needs (the time service's files),
    /// after the rest, parents before children.
    pub extra: &'a [Entry],
}

/// Path of module `name` inside the guest.
pub fn module_path_in_guest(name: &str) -> String {
    format!("{MODULE_DIR_IN_GUEST}/{name}")
}

/// The archive's entries, in a fixed order.
pub fn entries(contents: &Contents) -> Vec<Entry> {
    let dir = |p: &str| Entry::Dir { path: p.into(), mode: 0o755 };
    let mut entries = vec![
        dir("dev"),
        // The kernel opens /dev/console for init's stdio before init mounts devtmpfs.
        Entry::CharDev { path: "dev/console".into(), mode: 0o600, major: 5, minor: 1 },
        dir("proc"),
        dir("sys"),
        dir("clockstorm"),
        dir(MODULE_DIR_IN_GUEST.trim_start_matches('/')),
        Entry::File { path: "init".into(), mode: 0o755, data: contents.probe.to_vec() },
        Entry::File { path: CONFIG_PATH_IN_GUEST.trim_start_matches('/').into(), mode: 0o644, data: contents.config_json.to_vec() },
    ];
    for (name, data) in contents.modules {
        let path = module_path_in_guest(name);
        entries.push(Entry::File { path: path.trim_start_matches('/').into(), mode: 0o644, data: data.clone() });
    }
    entries.extend(contents.extra.iter().cloned());
    entries
}

/// Builds the archive and stores it as `<cache_dir>/<sha256>.cpio` unless an
/// archive with the same bytes is already there. Returns its path.
pub fn build_cached(cache_dir: &Path, contents: &Contents) -> Result<PathBuf, InitramfsError> {
    let bytes = write_newc(&entries(contents));
    let hash = hex(&Sha256::digest(&bytes));
    let path = cache_dir.join(format!("{hash}.cpio"));
    let err = |source| InitramfsError::Write { path: path.clone(), source };
    if path.is_file() {
        // Mark it used, so pruning keeps it.
        fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(std::time::SystemTime::now())).map_err(err)?;
    } else {
        fs::create_dir_all(cache_dir).map_err(err)?;
        // Written beside its final name and renamed, so a concurrent or crashed
        // writer never leaves a truncated archive under a valid hash.
        let mut tmp = tempfile::NamedTempFile::new_in(cache_dir).map_err(err)?;
        tmp.write_all(&bytes).map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
    }
    prune(cache_dir, MAX_CACHED_ARCHIVES);
    Ok(path)
}

/// Removes all but the `keep` most recently used archives. Best effort: a
/// cache that cannot be pruned still works.
fn prune(cache_dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(cache_dir) else { return };
    let mut archives: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cpio"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    archives.sort_by_key(|a| std::cmp::Reverse(a.0));
    for (_, old) in archives.into_iter().skip(keep) {
        let _ = fs::remove_file(old);
    }
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_give_the_same_cached_file_and_different_inputs_another() {
        let dir = tempfile::tempdir().unwrap();
        let modules = vec![("virtio.ko".to_string(), vec![7u8; 10])];
        let a = Contents { probe: b"\x7fELF probe", config_json: b"{}", modules: &modules, extra: &[] };
        let p1 = build_cached(dir.path(), &a).unwrap();
        let bytes1 = fs::read(&p1).unwrap();
        let p2 = build_cached(dir.path(), &a).unwrap();
        assert_eq!(p1, p2);
        assert_eq!(fs::read(&p2).unwrap(), bytes1);
        let b = Contents { probe: b"\x7fELF probe", config_json: b"{\"x\":1}", modules: &modules, extra: &[] };
        assert_ne!(build_cached(dir.path(), &b).unwrap(), p1);
        let text = String::from_utf8_lossy(&bytes1);
        for name in ["init\0", "clockstorm/config.json\0", "clockstorm/modules/virtio.ko\0", "dev/console\0"] {
            assert!(text.contains(name), "{name} missing");
        }
    }

    #[test]
    fn the_cache_keeps_only_the_most_recently_used_archives() {
        let dir = tempfile::tempdir().unwrap();
        let first = build_cached(dir.path(), &Contents { probe: b"p", config_json: b"0", modules: &[], extra: &[] }).unwrap();
        let mut second = None;
        for i in 1..=MAX_CACHED_ARCHIVES + 3 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let config = i.to_string();
            let path = build_cached(dir.path(), &Contents { probe: b"p", config_json: config.as_bytes(), modules: &[], extra: &[] }).unwrap();
            second.get_or_insert(path);
            if i == MAX_CACHED_ARCHIVES {
                // Reusing the first archive keeps it alive.
                std::thread::sleep(std::time::Duration::from_millis(2));
                build_cached(dir.path(), &Contents { probe: b"p", config_json: b"0", modules: &[], extra: &[] }).unwrap();
            }
        }
        let count = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(count, MAX_CACHED_ARCHIVES);
        assert!(first.exists(), "the archive used again is kept");
        assert!(!second.unwrap().exists(), "the least recently used archive is removed");
    }
}
