//! Finding the static guest probe that becomes the guest's `/init`.
//!
//! Built by `ci/build.sh` as
//! `target/x86_64-unknown-linux-gnu/probe/guest-probe` (a static glibc
//! binary: a target triple of its own so that `crt-static` does not reach the
//! harness's proc-macros).

use std::path::{Path, PathBuf};

use crate::error::Error;

/// Environment variable naming the probe binary explicitly.
pub const ENV_VAR: &str = "CLOCKSTORM_PROBE";

/// Where the build puts the probe, relative to the cargo target directory.
const TARGET_RELATIVE: &str = "x86_64-unknown-linux-gnu/probe/guest-probe";

/// Finds the probe: `flag`, then `$CLOCKSTORM_PROBE`, then the static build in
/// the cargo target directory the executable was built in
/// (`target/{debug,release}/clockstorm` or `target/debug/deps/*`), then
/// beside the running executable (an install).
pub fn locate(flag: Option<&Path>, env: Option<&std::ffi::OsStr>, current_exe: &Path) -> Result<PathBuf, Error> {
    let candidates = candidates(flag, env, current_exe);
    for c in &candidates {
        if c.is_file() {
            return Ok(c.clone());
        }
        if flag.is_some() || env.is_some() {
            break; // an explicit choice that does not exist is an error, not a hint
        }
    }
    Err(Error::ProbeMissing { looked: candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ") })
}

fn candidates(flag: Option<&Path>, env: Option<&std::ffi::OsStr>, current_exe: &Path) -> Vec<PathBuf> {
    if let Some(p) = flag {
        return vec![p.to_owned()];
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut out = Vec::new();
    if let Some(dir) = current_exe.parent() {
        // The static build first: in a build tree, `target/debug/guest-probe`
        // is the dynamic host build of the same crate.
        for ancestor in dir.ancestors().skip(1).take(2) {
            out.push(ancestor.join(TARGET_RELATIVE));
        }
        out.push(dir.join("guest-probe"));
    }
    out
}

/// Reads the probe and checks it is statically linked (no PT_INTERP program
/// header), since the initramfs has no dynamic loader.
pub fn load(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|_| Error::ProbeMissing { looked: path.display().to_string() })?;
    if has_interpreter(&bytes) {
        return Err(Error::ProbeNotStatic { path: path.to_owned() });
    }
    Ok(bytes)
}

/// True when a 64-bit little-endian ELF file asks for a dynamic loader.
pub fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |o: usize| elf.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()));
    let u64_at = |o: usize| elf.get(o..o + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize);
    if elf.get(..4) != Some(b"\x7fELF") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..phnum).any(|i| u32_at(phoff + i * phentsize) == Some(PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_dynamic_and_the_check_sees_it() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(has_interpreter(&me));
        assert!(!has_interpreter(b"not an elf"));
    }

    #[test]
    fn candidates_follow_flag_env_then_build_layout() {
        let exe = Path::new("/w/target/debug/deps/clockstorm-abc");
        let c = candidates(None, None, exe);
        assert_eq!(c[0], Path::new("/w/target/debug/x86_64-unknown-linux-gnu/probe/guest-probe"));
        assert_eq!(c[1], Path::new("/w/target/x86_64-unknown-linux-gnu/probe/guest-probe"));
        assert_eq!(c[2], Path::new("/w/target/debug/deps/guest-probe"));
        assert_eq!(candidates(Some(Path::new("/p")), Some("/e".as_ref()), exe), vec![PathBuf::from("/p")]);
        assert_eq!(candidates(None, Some("/e".as_ref()), exe), vec![PathBuf::from("/e")]);
        let err = locate(Some(Path::new("/nonexistent/probe")), None, exe).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/probe"), "{err}");
    }
}
