//! The host: facts recorded with every run, finding QEMU, and (in
//! [`resources`]) every host resource a plan needs, resolved in one place.

pub mod kernels;
pub mod resources;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use clockstorm_protocol::HostInfo;

use crate::error::Error;

/// Environment variable naming the QEMU binary.
pub const QEMU_ENV_VAR: &str = "CLOCKSTORM_QEMU";
/// The QEMU binary looked up in PATH by default.
pub const QEMU_DEFAULT: &str = "qemu-system-x86_64";

/// Resolves `name` (a path, or a bare name looked up in `path_var`) to an
/// executable file.
pub fn find_executable(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let is_exec = |p: &Path| p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path_var?).map(|dir| dir.join(name)).find(|p| is_exec(p))
}

/// Finds QEMU: `flag`, else `$CLOCKSTORM_QEMU`, else `qemu-system-x86_64` in PATH.
pub fn find_qemu(flag: Option<&str>) -> Result<PathBuf, Error> {
    let env = std::env::var(QEMU_ENV_VAR).ok().filter(|s| !s.is_empty());
    let name = flag.map(str::to_owned).or(env).unwrap_or_else(|| QEMU_DEFAULT.to_owned());
    find_executable(&name, std::env::var_os("PATH").as_deref()).ok_or(Error::QemuMissing { tried: name })
}

/// First line of `qemu --version`.
pub fn qemu_version(qemu: &Path) -> String {
    Command::new(qemu)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The host's kernel, clocksource and CPU.
pub fn host_info() -> HostInfo {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
            .unwrap_or_default()
    };
    HostInfo {
        kernel_release: crate::kernel::host_release(),
        clocksource: read("/sys/devices/system/clocksource/clocksource0/current_clocksource").trim().to_owned(),
        cpu_model: field("model name"),
        cpu_flags: field("flags").split_whitespace().map(str::to_owned).collect(),
        cpus: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_are_found_by_path_or_name_and_directories_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("qemu-fake");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let plain = dir.path().join("not-exec");
        std::fs::write(&plain, "").unwrap();
        let path_var = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_executable("qemu-fake", Some(&path_var)), Some(exe.clone()));
        assert_eq!(find_executable(exe.to_str().unwrap(), None), Some(exe));
        assert_eq!(find_executable("not-exec", Some(&path_var)), None);
        assert_eq!(find_executable(dir.path().to_str().unwrap(), None), None);
        assert_eq!(find_executable("qemu-fake", None), None);
    }
}
