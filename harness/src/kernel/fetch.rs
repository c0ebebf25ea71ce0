//! Fetching Debian's cloud kernel into the [`KernelCache`].
//!
//! apt runs with a private sources list, list/cache directories and an empty
//! dpkg status, all inside a private temporary directory, so the host's apt
//! configuration and state are untouched. Commands are run with argument
//! vectors, never through a shell.

use super::cache::validate_entry_name;
use super::modules::{module_load_order, ModuleFile, NETWORK_MODULES, VIRTIO_CONSOLE_MODULES};
use super::{read_release, sha256_file, CachedKernel, KernelCache, KernelError, KernelMeta};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Suite fetched when none is given.
pub const DEFAULT_SUITE: &str = "bookworm";
/// Mirror used when none is given.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Keyring that signs the Debian archive.
pub const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Flavour fetched when none is given.
pub const DEFAULT_FLAVOUR: &str = "cloud";
/// The kernel flavours Debian builds for amd64 guests that clockstorm fetches.
pub const FLAVOURS: [&str; 2] = ["cloud", "rt"];
const APT_HINT: &str = "install apt (this needs a Debian-based host)";
const DPKG_HINT: &str = "install dpkg (this needs a Debian-based host)";

/// Downloads Debian's current `linux-image-cloud-amd64` kernel for `suite`
/// from `mirror` (e.g. [`DEFAULT_MIRROR`]) and stores it in `cache` as the
/// entry `debian-<suite>-cloud-amd64`, replacing any previous entry of that
/// name. The entry holds `vmlinuz`, `meta.json` and `modules/` with the
/// `.ko` files for [`VIRTIO_CONSOLE_MODULES`] (and their dependencies) at
/// their paths under `kernel/`, plus `modules.builtin` if the package has it.
///
/// The entry is built in a staging directory inside the cache root and renamed
/// into place. If the cache has no `default` file yet, this entry becomes the
/// default. Needs `apt-get`, `apt-cache`, `dpkg-deb` and [`KEYRING`].
///
/// Two packagings are handled. Up to 6.x, `linux-image-<release>` holds
/// `boot/vmlinuz-<release>` and the modules. From 7.x it is a metapackage
/// that depends on `linux-binary-<release>` (the kernel at
/// `usr/lib/modules/<release>/vmlinuz`), `linux-modules-<release>` (the
/// modules, xz-compressed) and `linux-base-<release>` (`modules.builtin`:
/// the virtio console is built in there); those three are fetched instead.
pub fn fetch_debian_kernel(cache: &KernelCache, suite: &str, flavour: &str, mirror: &str) -> Result<CachedKernel, KernelError> {
    validate_suite(suite)?;
    validate_flavour(flavour)?;
    validate_mirror(mirror)?;
    if !Path::new(KEYRING).is_file() {
        return Err(KernelError::KeyringMissing { path: KEYRING.into() });
    }
    let meta_package = format!("linux-image-{flavour}-amd64");
    let name = format!("debian-{suite}-{flavour}-amd64");
    validate_entry_name(&name)?;

    let work = tempfile::Builder::new()
        .prefix("clockstorm-kernel-fetch-")
        .tempdir()
        .map_err(|e| KernelError::io(&std::env::temp_dir(), e))?;
    let w = work.path();
    for d in ["lists/partial", "cache/archives/partial", "etc", "dl"] {
        fs::create_dir_all(w.join(d)).map_err(|e| KernelError::io(&w.join(d), e))?;
    }
    let sources = w.join("etc/sources.list");
    let line = format!("deb [signed-by={KEYRING}] {mirror} {suite} main\n");
    fs::write(&sources, line).map_err(|e| KernelError::io(&sources, e))?;
    let opts = apt_options(w);

    run(Command::new("apt-get").args(&opts).arg("update"), APT_HINT)?;
    let mut depends = Command::new("apt-cache");
    depends.args(&opts).args(["depends", &meta_package]);
    let out = run(&mut depends, APT_HINT)?;
    let package = parse_image_depends(&out, &meta_package).ok_or_else(|| KernelError::UnexpectedOutput {
        command: describe(&depends),
        reason: format!("no `Depends: linux-image-...` line in:\n{}", tail(&out, 10)),
    })?;
    let release = package.strip_prefix("linux-image-").unwrap_or(&package).to_string();

    let mut image_depends = Command::new("apt-cache");
    image_depends.args(&opts).args(["depends", &package]);
    let parts = split_packages(&run(&mut image_depends, APT_HINT)?, &release);
    // The package whose version is recorded: the one holding the kernel.
    let (packages, kernel_package) = match &parts {
        Some(p) => (p.clone(), format!("linux-binary-{release}")),
        None => (vec![package.clone()], package.clone()),
    };

    let dl = w.join("dl");
    run(Command::new("apt-get").args(&opts).arg("download").args(&packages).current_dir(&dl), APT_HINT)?;
    let x = w.join("x");
    let mut package_version = String::new();
    for p in &packages {
        let (deb, version) = find_deb(&dl, p)?;
        if *p == kernel_package {
            package_version = version;
        }
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x), DPKG_HINT)?;
    }

    let vmlinuz = [format!("boot/vmlinuz-{release}"), format!("usr/lib/modules/{release}/vmlinuz")]
        .iter()
        .map(|p| x.join(p))
        .find(|p| p.is_file())
        .ok_or_else(|| KernelError::Missing { path: x.join(format!("boot/vmlinuz-{release}")) })?;
    let header_release = read_release(&vmlinuz)?;
    if header_release != release {
        return Err(KernelError::BadHeader {
            path: vmlinuz,
            reason: format!("header says release {header_release:?} but package {package} implies {release:?}"),
        });
    }
    let pkg_modules = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|p| x.join(p).join(&release))
        .find(|p| p.is_dir())
        .ok_or_else(|| KernelError::Missing { path: x.join("lib/modules").join(&release) })?;

    let meta = KernelMeta {
        name: name.clone(),
        release,
        package: kernel_package,
        package_version,
        suite: suite.into(),
        flavour: flavour.into(),
        sha256: String::new(),
        size: 0,
        fetched_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        network_modules: false,
    };
    install_entry(cache, meta, &vmlinuz, &pkg_modules)
}

/// Builds the entry in a staging directory inside the cache root, then renames it into place.
fn install_entry(cache: &KernelCache, mut meta: KernelMeta, vmlinuz: &Path, pkg_modules: &Path) -> Result<CachedKernel, KernelError> {
    let root = cache.root();
    fs::create_dir_all(root).map_err(|e| KernelError::io(root, e))?;
    let staging = tempfile::Builder::new().prefix(".staging-").tempdir_in(root).map_err(|e| KernelError::io(root, e))?;
    let s = staging.path();

    let dest = s.join("vmlinuz");
    copy(vmlinuz, &dest)?;
    (meta.sha256, meta.size) = sha256_file(&dest)?;

    let mods = s.join("modules");
    let mut kept = module_load_order(pkg_modules, VIRTIO_CONSOLE_MODULES)?;
    // The network's modules are kept where they can be: a kernel without
    // them still boots every run that needs no time service.
    match network_modules(pkg_modules) {
        Ok(net) => {
            meta.network_modules = true;
            kept.extend(net.into_iter().filter(|m| !kept.iter().any(|k| k.name == m.name)).collect::<Vec<_>>());
        }
        Err(e) => eprintln!("clockstorm: {}: the guest network's modules are not kept ({e}); runs with a time service cannot use it", meta.name),
    }
    for m in kept {
        let rel = m.path.strip_prefix(pkg_modules).unwrap_or(&m.path);
        let to = mods.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| KernelError::io(parent, e))?;
        }
        copy(&m.path, &to)?;
    }
    let builtin = pkg_modules.join("modules.builtin");
    if builtin.is_file() {
        fs::create_dir_all(&mods).map_err(|e| KernelError::io(&mods, e))?;
        copy(&builtin, &mods.join("modules.builtin"))?;
    }

    let meta_path = s.join("meta.json");
    let json = serde_json::to_string_pretty(&meta).expect("KernelMeta serializes");
    fs::write(&meta_path, json + "\n").map_err(|e| KernelError::io(&meta_path, e))?;

    let fin = root.join(&meta.name);
    let old = root.join(format!(".old-{}-{}", meta.name, std::process::id()));
    let had_old = fin.exists();
    if had_old {
        fs::rename(&fin, &old).map_err(|e| KernelError::io(&fin, e))?;
    }
    if let Err(e) = fs::rename(s, &fin) {
        if had_old {
            let _ = fs::rename(&old, &fin);
        }
        return Err(KernelError::io(&fin, e));
    }
    // `staging` now points at a path that no longer exists; its drop is a no-op.
    drop(staging);
    if had_old {
        fs::remove_dir_all(&old).map_err(|e| KernelError::io(&old, e))?;
    }
    if cache.default_name()?.is_none() {
        cache.set_default(&meta.name)?;
    }
    cache.get(&meta.name)
}

/// [`NETWORK_MODULES`] and their dependencies. Newer packages compress
/// their modules with xz (7.x; 6.12 too): each one needed is unpacked
/// beside itself (`xz -dk`), as the kernel would load it, and the order
/// resolved again; the rest of the package stays as it is.
fn network_modules(pkg_modules: &Path) -> Result<Vec<ModuleFile>, KernelError> {
    for _ in 0..64 {
        match module_load_order(pkg_modules, NETWORK_MODULES) {
            Err(KernelError::CompressedModule { path }) if path.extension().is_some_and(|x| x == "xz") => {
                run(Command::new("xz").arg("-dk").arg("--").arg(&path), "install xz-utils")?;
            }
            other => return other,
        }
    }
    Err(KernelError::UnexpectedOutput { command: "xz -dk".into(), reason: "more than 64 compressed modules for the network".into() })
}

fn copy(from: &Path, to: &Path) -> Result<(), KernelError> {
    fs::copy(from, to).map(drop).map_err(|e| KernelError::io(to, e))
}

/// The `-o` options that give apt a private configuration under `work`.
fn apt_options(work: &Path) -> Vec<OsString> {
    let pairs: [(&str, OsString); 7] = [
        ("Dir::Etc::SourceList", work.join("etc/sources.list").into()),
        ("Dir::Etc::SourceParts", "/dev/null".into()),
        ("Dir::State::Lists", work.join("lists").into()),
        ("Dir::Cache", work.join("cache").into()),
        ("Dir::State::status", "/dev/null".into()),
        ("APT::Sandbox::User", "root".into()),
        ("APT::Architecture", "amd64".into()),
    ];
    let mut v = Vec::new();
    for (k, val) in pairs {
        let mut kv = OsString::from(format!("{k}="));
        kv.push(val);
        v.push("-o".into());
        v.push(kv);
    }
    v
}

/// Extracts the kernel image package from `apt-cache depends <meta_package>`
/// output, i.e. the first `Depends:` (or `|Depends:`) target starting with
/// `linux-image-` other than the metapackage itself.
pub fn parse_image_depends(output: &str, meta_package: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let rest = l.trim().trim_start_matches('|').strip_prefix("Depends:")?;
        let pkg = rest.trim().trim_start_matches('<').trim_end_matches('>');
        (pkg.starts_with("linux-image-") && pkg != meta_package).then(|| pkg.to_string())
    })
}

/// The split packages of a 7.x-style `linux-image-<release>` metapackage, from
/// `apt-cache depends linux-image-<release>`: `linux-binary-<release>` and,
/// where it depends on them, `linux-modules-<release>` and
/// `linux-base-<release>`. None for the older packaging (one package).
pub fn split_packages(output: &str, release: &str) -> Option<Vec<String>> {
    let depends: Vec<&str> = output
        .lines()
        .filter_map(|l| l.trim().trim_start_matches('|').strip_prefix("Depends:"))
        .map(|p| p.trim().trim_start_matches('<').trim_end_matches('>'))
        .collect();
    let binary = format!("linux-binary-{release}");
    if !depends.contains(&binary.as_str()) {
        return None;
    }
    let mut packages = vec![binary];
    for extra in [format!("linux-modules-{release}"), format!("linux-base-{release}")] {
        if depends.contains(&extra.as_str()) {
            packages.push(extra);
        }
    }
    Some(packages)
}

/// Splits a `.deb` file name `<package>_<version>_<arch>.deb` into
/// (package, version), decoding apt's `%3a` escape for the epoch colon.
pub fn parse_deb_filename(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix(".deb")?;
    let mut parts = stem.split('_');
    let (pkg, ver, _arch) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || pkg.is_empty() || ver.is_empty() {
        return None;
    }
    Some((pkg.to_string(), ver.replace("%3a", ":").replace("%3A", ":")))
}

/// Finds the downloaded `.deb` for `package` in `dir`; returns (path, version).
fn find_deb(dir: &Path, package: &str) -> Result<(PathBuf, String), KernelError> {
    for ent in fs::read_dir(dir).map_err(|e| KernelError::io(dir, e))? {
        let ent = ent.map_err(|e| KernelError::io(dir, e))?;
        let fname = ent.file_name().to_string_lossy().into_owned();
        if let Some((p, v)) = parse_deb_filename(&fname) {
            if p == package {
                return Ok((ent.path(), v));
            }
        }
    }
    Err(KernelError::Missing { path: dir.join(format!("{package}_*.deb")) })
}

fn validate_flavour(flavour: &str) -> Result<(), KernelError> {
    if FLAVOURS.contains(&flavour) {
        return Ok(());
    }
    Err(KernelError::InvalidInput { what: "kernel flavour", value: flavour.into(), reason: format!("expected one of {}", FLAVOURS.join(", ")) })
}

fn validate_suite(suite: &str) -> Result<(), KernelError> {
    if !suite.is_empty() && suite.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Ok(());
    }
    Err(KernelError::InvalidInput {
        what: "Debian suite",
        value: suite.into(),
        reason: "expected a name like bookworm, trixie or bookworm-backports".into(),
    })
}

fn validate_mirror(mirror: &str) -> Result<(), KernelError> {
    let scheme = mirror.starts_with("http://") || mirror.starts_with("https://");
    if scheme && !mirror.chars().any(|c| c.is_whitespace() || c == '[' || c == ']') {
        return Ok(());
    }
    Err(KernelError::InvalidInput { what: "Debian mirror URL", value: mirror.into(), reason: "expected an http:// or https:// URL without spaces".into() })
}

/// The command line as text, for error messages (not for execution).
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs `cmd`, returning its stdout; a missing program or a failure becomes a [`KernelError`].
fn run(cmd: &mut Command, hint: &str) -> Result<String, KernelError> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            KernelError::CommandMissing { program: cmd.get_program().to_string_lossy().into_owned(), hint: hint.into() }
        } else {
            KernelError::CommandFailed { command: describe(cmd), status: "could not start".into(), stderr_tail: e.to_string() }
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let text = if stderr.trim().is_empty() { stdout.as_str() } else { &stderr };
        return Err(KernelError::CommandFailed { command: describe(cmd), status: out.status.to_string(), stderr_tail: tail(text, 15) });
    }
    Ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apt_cache_depends() {
        let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-50-cloud-amd64\n";
        assert_eq!(parse_image_depends(out, "linux-image-cloud-amd64").as_deref(), Some("linux-image-6.1.0-50-cloud-amd64"));
        let alt = "linux-image-cloud-amd64\n  Recommends: foo\n |Depends: <linux-image-6.12.9-cloud-amd64>\n  Depends: other\n";
        assert_eq!(parse_image_depends(alt, "linux-image-cloud-amd64").as_deref(), Some("linux-image-6.12.9-cloud-amd64"));
        assert_eq!(parse_image_depends("linux-image-cloud-amd64\n  Depends: libc6\n", "linux-image-cloud-amd64"), None);
        assert_eq!(parse_image_depends("", "linux-image-cloud-amd64"), None);
    }

    #[test]
    fn the_7x_split_packaging_is_recognized_from_the_image_depends() {
        // apt-cache depends linux-image-7.2.13+deb14-cloud-amd64 (sid, 2026-12).
        let new = "linux-image-7.2.13+deb14-cloud-amd64\n  PreDepends: linux-base\n |Depends: dracut\n |Depends: initramfs-tools\n  Depends: <linux-initramfs-tool>\n    dracut\n  Depends: linux-base-7.2.13+deb14-cloud-amd64\n  Depends: linux-binary-7.2.13+deb14-cloud-amd64\n  Depends: linux-modules-7.2.13+deb14-cloud-amd64\n  Recommends: apparmor\n";
        let r = "7.2.13+deb14-cloud-amd64";
        assert_eq!(split_packages(new, r), Some(vec![format!("linux-binary-{r}"), format!("linux-modules-{r}"), format!("linux-base-{r}")]));
        // bookworm's 6.1: one package holds kernel and modules.
        let old = "linux-image-6.1.0-50-cloud-amd64\n  Depends: kmod\n  Depends: linux-base\n |Depends: initramfs-tools\n  Recommends: apparmor\n";
        assert_eq!(split_packages(old, "6.1.0-50-cloud-amd64"), None);
    }

    #[test]
    fn parses_deb_filenames() {
        assert_eq!(
            parse_deb_filename("linux-image-6.1.0-50-cloud-amd64_6.1.164-1_amd64.deb"),
            Some(("linux-image-6.1.0-50-cloud-amd64".into(), "6.1.164-1".into()))
        );
        assert_eq!(parse_deb_filename("foo_1%3a2.0-1_all.deb"), Some(("foo".into(), "1:2.0-1".into())));
        assert_eq!(parse_deb_filename("foo.deb"), None);
        assert_eq!(parse_deb_filename("foo_1_amd64.tar"), None);
    }

    #[test]
    fn apt_options_are_private() {
        let opts: Vec<String> = apt_options(Path::new("/w")).iter().map(|o| o.to_string_lossy().into_owned()).collect();
        assert!(opts.contains(&"Dir::Etc::SourceList=/w/etc/sources.list".to_string()));
        assert!(opts.contains(&"Dir::State::status=/dev/null".to_string()));
        assert_eq!(opts.iter().filter(|o| *o == "-o").count(), opts.len() / 2);
    }

    #[test]
    fn validates_inputs() {
        assert!(validate_suite("bookworm").is_ok());
        assert!(validate_suite("bookworm-backports").is_ok());
        let err = validate_suite("book worm").unwrap_err();
        assert!(err.to_string().contains("book worm"), "{err}");
        assert!(validate_mirror(DEFAULT_MIRROR).is_ok());
        assert!(validate_mirror("ftp://x").is_err());
        assert!(validate_mirror("http://x main contrib").is_err());
    }

    #[test]
    fn failing_and_missing_commands_are_described() {
        let err = run(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]), "x").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("sh -c") && msg.contains("boom") && msg.contains('3'), "{msg}");
        let err = run(&mut Command::new("clockstorm-no-such-program"), "install it").unwrap_err();
        assert!(matches!(err, KernelError::CommandMissing { .. }));
        assert!(err.to_string().contains("clockstorm-no-such-program"), "{err}");
    }

    #[test]
    fn install_entry_replaces_atomically_and_sets_default() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        let pkg = src.join("lib/modules/6.1.0-t");
        for (rel, deps) in [
            ("virtio.ko", ""),
            ("virtio_ring.ko", "virtio"),
            ("virtio_console.ko", "virtio,virtio_ring"),
            ("virtio_pci.ko", "virtio_ring,virtio"),
            ("unrelated.ko", ""),
        ] {
            let p = pkg.join("kernel/drivers").join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, format!("x\0depends={deps}\0")).unwrap();
        }
        fs::write(pkg.join("modules.builtin"), "kernel/fs/ext4/ext4.ko\n").unwrap();
        let vmlinuz = src.join("vmlinuz");
        fs::write(&vmlinuz, super::super::bzimage::synthetic_bzimage("6.1.0-t #1")).unwrap();
        let cache = KernelCache::new(d.path().join("cache"));
        let meta = KernelMeta {
            name: "debian-test-cloud-amd64".into(),
            release: "6.1.0-t".into(),
            package: "linux-image-6.1.0-t".into(),
            package_version: "1".into(),
            suite: "test".into(),
            flavour: "cloud".into(),
            sha256: String::new(),
            size: 0,
            fetched_at: 0,
            network_modules: false,
        };
        let k = install_entry(&cache, meta.clone(), &vmlinuz, &pkg).unwrap();
        k.verify().unwrap();
        assert!(k.dir.join("modules/kernel/drivers/virtio_console.ko").is_file());
        assert!(k.dir.join("modules/kernel/drivers/virtio_pci.ko").is_file());
        assert!(k.dir.join("modules/modules.builtin").is_file());
        assert!(!k.dir.join("modules/kernel/drivers/unrelated.ko").exists());
        assert_eq!(cache.default_name().unwrap().as_deref(), Some("debian-test-cloud-amd64"));
        // second install replaces, leaving no staging/old dirs behind
        let k2 = install_entry(&cache, meta, &vmlinuz, &pkg).unwrap();
        assert_eq!(k2.meta.sha256, k.meta.sha256);
        let leftovers: Vec<_> = fs::read_dir(cache.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
