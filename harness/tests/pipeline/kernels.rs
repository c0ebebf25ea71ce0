//! `kernel fetch` of both Debian packagings into a temporary cache (real
//! downloads from deb.debian.org; no guest boots), and the one rule for
//! naming a kernel: a path, or a cache entry's name.

use std::process::Command;

use crate::support::*;

fn fetch(cache: &std::path::Path, suite: &str) -> std::process::Output {
    Command::new(BIN).args(["kernel", "fetch", "--suite", suite]).env("CLOCKSTORM_CACHE", cache).output().unwrap()
}

#[test]
fn kernel_fetch_takes_the_old_and_the_new_debian_packaging_into_a_temporary_cache() {
    let cache = tempfile::tempdir().unwrap();
    // bullseye 5.10: one linux-image package with boot/vmlinuz and the modules.
    let old = fetch(cache.path(), "bullseye");
    assert_eq!(old.status.code(), Some(0), "{}", text(&old));
    // trixie-backports 7.x: linux-binary (usr/lib/modules/R/vmlinuz),
    // linux-modules and linux-base (modules.builtin).
    let new = fetch(cache.path(), "trixie-backports");
    assert_eq!(new.status.code(), Some(0), "{}", text(&new));
    assert!(String::from_utf8_lossy(&new.stdout).contains("linux-binary-7."), "{}", text(&new));

    let list = Command::new(BIN).args(["kernel", "list"]).env("CLOCKSTORM_CACHE", cache.path()).output().unwrap();
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let line = |name: &str| listed.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} not in:\n{listed}")).to_owned();
    let (bullseye, backports) = (line("debian-bullseye-cloud-amd64 "), line("debian-trixie-backports-cloud-amd64 "));
    assert!(bullseye.contains(" 5.10.") && bullseye.contains(" bullseye ") && bullseye.contains(" cloud "), "{bullseye}");
    assert!(backports.contains(" 7.") && backports.contains(" trixie-backports ") && backports.contains(" cloud "), "{backports}");

    // What the virtio data channel needs: 5.10's modules as .ko files; 7.x
    // builds them in, and the entry says so in its modules.builtin.
    let entries = cache.path().join("kernels");
    let ko = std::fs::read_dir(entries.join("debian-bullseye-cloud-amd64/modules/kernel/drivers/char")).unwrap().count();
    assert!(ko > 0);
    let builtin = std::fs::read_to_string(entries.join("debian-trixie-backports-cloud-amd64/modules/modules.builtin")).unwrap();
    assert!(builtin.contains("virtio_console.ko"), "{builtin}");
}

#[test]
fn a_bad_flavour_is_a_usage_error_and_a_bare_kernel_name_is_a_cache_entry() {
    let cache = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["kernel", "fetch", "--flavour", "desktop"])
        .env("CLOCKSTORM_CACHE", cache.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected one of cloud, rt"), "{}", text(&o));
    // --kernel takes what guest.kernels takes: a bare name is looked up in the cache.
    let o = Command::new(BIN)
        .args(["run", "idle", "--kernel", "debian-nosuch-cloud-amd64"])
        .env("CLOCKSTORM_CACHE", cache.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("debian-nosuch-cloud-amd64") && !err.contains("does not exist as a file"), "{err}");
}
