//! chrony: where its daemon is on this host, what the guest needs of it,
//! and whether a configuration is one chrony accepts.
//!
//! One `chronyd` serves both sides: the host's server (`-x`: it never
//! touches the host clock) and the guest's client, copied into the
//! initramfs with the shared libraries the host's loader resolves for it.
//! `ci/setup-host.sh` unpacks Debian's (or Ubuntu's) chrony package into
//! the cache without installing it, so the host's own time service is left
//! alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TimeServiceError;
use crate::initramfs::Entry;

/// Names a `chronyd` to use instead of the cache's or the system's.
pub const ENV_VAR: &str = "CLOCKSTORM_CHRONYD";
/// Where `ci/setup-host.sh` unpacks the chrony package, under the cache root.
pub const CACHE_DIR: &str = "chrony";
/// chronyd's path inside the package (and inside the guest).
pub const CHRONYD_IN_PACKAGE: &str = "usr/sbin/chronyd";
/// The packaged default configuration, inside the package; Debian's
/// postinst copies it to /etc/chrony/chrony.conf.
pub const DEFAULT_CONFIG_IN_PACKAGE: &str = "usr/share/chrony/chrony.conf";
/// The configuration's path inside the guest, as on an installed system.
pub const CONFIG_IN_GUEST: &str = "/etc/chrony/chrony.conf";
/// Directories the packaged configuration and chronyd expect.
pub const GUEST_DIRS: &[&str] = &["/run/chrony", "/var/lib/chrony", "/var/log/chrony", "/etc/chrony/conf.d", "/etc/chrony/sources.d", "/run/chrony-dhcp"];
/// The line naming the host's server; the probe fills in address and port.
pub const SOURCE_LINE: &str = "server {address} port {port}";

/// A chronyd found on this host, with the package's default configuration.
#[derive(Debug, Clone)]
pub struct ChronyInstall {
    pub chronyd: PathBuf,
    /// The packaged chrony.conf beside it, if there is one.
    pub default_config: Option<PathBuf>,
    /// `chronyd --version`'s first line.
    pub version: String,
}

/// The chronyd to use: `$CLOCKSTORM_CHRONYD` when set (and then only it: a
/// binary the user named is never silently replaced by another), else the
/// package unpacked in the cache (`<cache_root>/chrony`), else
/// `/usr/sbin/chronyd`.
pub fn locate(env: Option<&std::ffi::OsStr>, cache_root: Option<&Path>) -> Result<ChronyInstall, TimeServiceError> {
    let mut tried = Vec::new();
    let named = env.filter(|v| !v.is_empty()).map(|v| (PathBuf::from(v), None));
    let candidates: Vec<(PathBuf, Option<PathBuf>)> = match named {
        Some(n) => vec![n],
        None => cache_root
            .map(|r| r.join(CACHE_DIR))
            .map(|root| (root.join(CHRONYD_IN_PACKAGE), Some(root)))
            .into_iter()
            .chain(std::iter::once((PathBuf::from("/usr/sbin/chronyd"), Some(PathBuf::from("/")))))
            .collect(),
    };
    for (chronyd, root) in candidates {
        if !chronyd.is_file() {
            tried.push(chronyd.display().to_string());
            continue;
        }
        let default_config = root.map(|r| r.join(DEFAULT_CONFIG_IN_PACKAGE)).filter(|p| p.is_file());
        let version = version_of(&chronyd)?;
        return Ok(ChronyInstall { chronyd, default_config, version });
    }
    Err(TimeServiceError::NotFound { tried: tried.join(", ") })
}

fn version_of(chronyd: &Path) -> Result<String, TimeServiceError> {
    let out = Command::new(chronyd)
        .arg("--version")
        .output()
        .map_err(|source| TimeServiceError::Run { what: format!("{} --version", chronyd.display()), source })?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().next() {
        Some(line) if out.status.success() => Ok(line.trim().to_owned()),
        _ => Err(TimeServiceError::Unusable {
            binary: chronyd.to_owned(),
            reason: format!("`--version` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
        }),
    }
}

/// The configuration text the guest gets: `config` (or the packaged
/// default), then each directive on its own line.
pub fn guest_config(install: &ChronyInstall, config: Option<&str>, directives: &[String]) -> Result<String, TimeServiceError> {
    let mut text = match config {
        Some(c) => c.to_owned(),
        None => {
            let path = install.default_config.as_ref().ok_or_else(|| TimeServiceError::NoDefaultConfig { chronyd: install.chronyd.clone() })?;
            std::fs::read_to_string(path).map_err(|source| TimeServiceError::Read { path: path.clone(), source })?
        }
    };
    if !directives.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("# Added by the scenario's time_service.directives (a later directive wins):\n");
        for d in directives {
            text.push_str(d);
            text.push('\n');
        }
    }
    Ok(text)
}

/// Whether chronyd accepts `text` (`chronyd -p`: parse, print, exit), with
/// chrony's own message when it does not. `dir` is private scratch space.
pub fn check_config(install: &ChronyInstall, text: &str, dir: &Path) -> Result<(), TimeServiceError> {
    let path = dir.join("chrony-check.conf");
    std::fs::write(&path, text).map_err(|source| TimeServiceError::Write { path: path.clone(), source })?;
    let out = Command::new(&install.chronyd)
        .args(["-p", "-U", "-f"])
        .arg(&path)
        .output()
        .map_err(|source| TimeServiceError::Run { what: format!("{} -p", install.chronyd.display()), source })?;
    if out.status.success() {
        return Ok(());
    }
    // "2026-12-02T08:00:13Z Fatal error : Invalid directive at line 3 in file X"
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message = stderr
        .lines()
        .map(|l| l.split_once(" Fatal error : ").map_or(l, |(_, m)| m))
        .map(|m| m.replace(&path.display().to_string(), "the configuration"))
        .collect::<Vec<_>>()
        .join("; ");
    Err(TimeServiceError::Rejected { message: if message.is_empty() { out.status.to_string() } else { message } })
}

/// `chronyd`'s shared libraries as the host's loader resolves them (ldd's
/// `name => /path (addr)` and `/path (addr)` lines): the guest gets these
/// very files at these paths.
pub fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.contains("not found") {
            return Err(format!("a library is missing: {line}"));
        }
        let target = line.split_once("=>").map_or(line, |(_, t)| t.trim());
        let path = target.split_whitespace().next().unwrap_or("");
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// Everything chronyd needs in the initramfs: itself, its libraries, the
/// configuration, the user it runs as.
pub fn guest_entries(install: &ChronyInstall, config: &str) -> Result<Vec<Entry>, TimeServiceError> {
    let out = Command::new("ldd")
        .arg(&install.chronyd)
        .output()
        .map_err(|source| TimeServiceError::Run { what: format!("ldd {}", install.chronyd.display()), source })?;
    let libs =
        parse_ldd(&String::from_utf8_lossy(&out.stdout)).map_err(|reason| TimeServiceError::Unusable { binary: install.chronyd.clone(), reason })?;
    if !out.status.success() || libs.is_empty() {
        let reason = format!("ldd found no shared libraries ({}); a static or foreign chronyd is not supported", out.status);
        return Err(TimeServiceError::Unusable { binary: install.chronyd.clone(), reason });
    }
    let read = |p: &Path| std::fs::read(p).map_err(|source| TimeServiceError::Read { path: p.to_owned(), source });
    let mut entries = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    let mut file = |path: &str, mode: u32, data: Vec<u8>, entries: &mut Vec<Entry>| {
        let rel = path.trim_start_matches('/').to_owned();
        let mut parent = Path::new(&rel).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_string_lossy().into_owned());
            parent = p.parent();
        }
        entries.push(Entry::File { path: rel, mode, data });
    };
    file(CHRONYD_IN_PACKAGE, 0o755, read(&install.chronyd)?, &mut entries);
    for lib in &libs {
        file(&lib.to_string_lossy(), 0o755, read(lib)?, &mut entries);
    }
    file(CONFIG_IN_GUEST, 0o644, config.as_bytes().to_vec(), &mut entries);
    // The package's postinst makes the key file; chronyd warns without one.
    file("/etc/chrony/chrony.keys", 0o640, Vec::new(), &mut entries);
    // chronyd looks its user up even as root (`-u root`); glibc reads these.
    file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n".to_vec(), &mut entries);
    file("/etc/group", 0o644, b"root:x:0:\n".to_vec(), &mut entries);
    file("/etc/nsswitch.conf", 0o644, b"passwd: files\ngroup: files\nhosts: files dns\n".to_vec(), &mut entries);
    // Parents first, as cpio readers expect.
    let mut out: Vec<Entry> = dirs.into_iter().map(|d| Entry::Dir { path: d, mode: 0o755 }).collect();
    out.extend(entries);
    Ok(out)
}

/// The guest's command: in the foreground, logging to stderr (which the
/// probe forwards), as root (the initramfs has no `_chrony` user).
pub fn guest_argv() -> Vec<String> {
    ["/usr/sbin/chronyd", "-d", "-u", "root", "-f", CONFIG_IN_GUEST].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_the_files_the_loader_would_map() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f26)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f26)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f26)\n";
        let libs = parse_ldd(out).unwrap();
        assert_eq!(
            libs,
            [PathBuf::from("/lib/x86_64-linux-gnu/libm.so.6"), "/lib/x86_64-linux-gnu/libc.so.6".into(), "/lib64/ld-linux-x86-64.so.2".into()]
        );
        let e = parse_ldd("\tlibgnutls.so.30 => not found\n").unwrap_err();
        assert!(e.contains("libgnutls.so.30"), "{e}");
    }

    #[test]
    fn directives_follow_the_configuration() {
        let install = ChronyInstall { chronyd: "/x".into(), default_config: None, version: String::new() };
        let text = guest_config(&install, Some("makestep 1 3"), &["makestep 0.1 -1".into()]).unwrap();
        assert!(text.starts_with("makestep 1 3\n#") && text.ends_with("makestep 0.1 -1\n"), "{text}");
        assert!(matches!(guest_config(&install, None, &[]), Err(TimeServiceError::NoDefaultConfig { .. })));
    }

    #[test]
    fn a_missing_chronyd_names_every_place_looked_at() {
        let d = tempfile::tempdir().unwrap();
        match locate(None, Some(d.path())) {
            Err(TimeServiceError::NotFound { tried }) => {
                assert!(tried.contains("chrony/usr/sbin/chronyd, ") && tried.ends_with(", /usr/sbin/chronyd"), "{tried}")
            }
            // A host with chrony installed finds /usr/sbin/chronyd.
            Ok(found) => assert_eq!(found.chronyd, PathBuf::from("/usr/sbin/chronyd")),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_chronyd_named_by_the_environment_is_the_only_one_tried() {
        let d = tempfile::tempdir().unwrap();
        let env = d.path().join("nope");
        match locate(Some(env.as_os_str()), Some(d.path())) {
            Err(TimeServiceError::NotFound { tried }) => assert_eq!(tried, env.display().to_string()),
            other => panic!("{other:?}"),
        }
    }
}
