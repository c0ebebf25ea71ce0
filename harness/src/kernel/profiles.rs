//! Kernel clock profiles (`clockstorm characterize`): where they are kept
//! and how a booted kernel finds its own.
//!
//! A profile of a cached kernel lives beside it,
//! `<cache>/<entry>/clock-profile-<clocksource>.json`; one of a kernel given
//! as a path (or a fake guest's kernel) under
//! `<cache>/profiles/<release>-<sha256 prefix>/`. The project ships the
//! profiles it measured of the kernels `ci/fetch-kernels.sh` fetches
//! (`profiles/` in the repository, compiled in). A kernel finds its
//! profile by sha256 first (the same build), then by release (another
//! build of the same release, which the report says).

use std::fs;
use std::path::{Path, PathBuf};

use clockstorm_protocol::{ClockProfile, ClockRule, Clocksource};
use clockstorm_reports::predict::rule_from_profile;

use super::{KernelCache, KernelError, KernelImage};

/// The profiles this repository ships: (file, JSON). Measured here with
/// `clockstorm characterize`; a test checks this list against `profiles/`.
pub const SHIPPED: &[(&str, &str)] = &[
    ("5.10.0-32-cloud-amd64.acpi_pm.json", include_str!("../../../profiles/5.10.0-32-cloud-amd64.acpi_pm.json")),
    ("6.1.0-50-cloud-amd64.acpi_pm.json", include_str!("../../../profiles/6.1.0-50-cloud-amd64.acpi_pm.json")),
    ("6.12.117+deb13-cloud-amd64.acpi_pm.json", include_str!("../../../profiles/6.12.117+deb13-cloud-amd64.acpi_pm.json")),
    ("7.3.4+deb13-cloud-amd64.acpi_pm.json", include_str!("../../../profiles/7.3.4+deb13-cloud-amd64.acpi_pm.json")),
];

/// The file name of a profile in its directory.
pub fn file_name(clocksource: Clocksource) -> String {
    format!("clock-profile-{clocksource}.json")
}

/// Where `characterize` keeps the profile of `image` (given as `name`).
pub fn location(cache: &KernelCache, name: &str, image: &KernelImage, clocksource: Clocksource) -> PathBuf {
    let dir = match cache.get(name) {
        Ok(entry) if entry.meta.sha256 == image.sha256 => entry.dir,
        _ => {
            let sha = image.sha256.get(..12).unwrap_or("nosha");
            cache.root().join("profiles").join(format!("{}-{sha}", image.release))
        }
    };
    dir.join(file_name(clocksource))
}

/// Writes `profile` to `path` (atomically: a reader never sees half a file).
pub fn save(path: &Path, profile: &ClockProfile) -> Result<(), KernelError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| KernelError::io(dir, e))?;
    let text = serde_json::to_string_pretty(profile).expect("a profile serializes") + "\n";
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text).map_err(|e| KernelError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| KernelError::io(path, e))
}

/// Every profile there is: those in the cache, then the shipped ones, each
/// with where it came from. Unreadable files are skipped with a warning.
pub fn all(cache: &KernelCache) -> Vec<(ClockProfile, String)> {
    let mut dirs: Vec<PathBuf> = cache.list().unwrap_or_default().into_iter().map(|e| e.dir).collect();
    if let Ok(rd) = fs::read_dir(cache.root().join("profiles")) {
        let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        more.sort();
        dirs.extend(more);
    }
    let mut out = Vec::new();
    for dir in dirs {
        for cs in [Clocksource::AcpiPm, Clocksource::Hpet] {
            let path = dir.join(file_name(cs));
            let Ok(text) = fs::read_to_string(&path) else { continue };
            match serde_json::from_str::<ClockProfile>(&text) {
                Ok(p) => {
                    let shown = path
                        .strip_prefix(cache.root())
                        .map_or_else(|_| path.display().to_string(), |rel| format!("kernel cache {}", rel.display()));
                    out.push((p, shown))
                }
                Err(e) => eprintln!("clockstorm: warning: {}: not a clock profile ({e}); ignored", path.display()),
            }
        }
    }
    for (file, text) in SHIPPED {
        match serde_json::from_str::<ClockProfile>(text) {
            Ok(p) => out.push((p, format!("shipped profiles/{file}"))),
            Err(e) => eprintln!("clockstorm: warning: shipped profile {file} does not parse ({e}); ignored"),
        }
    }
    out
}

/// The rule of the best profile for a kernel of `release` and `sha256`:
/// the same build before the same release, acpi_pm (finer) before hpet,
/// the cache before the shipped ones. A profile measured on the fake
/// backend only serves a fake kernel.
pub fn rule_for(profiles: &[(ClockProfile, String)], release: &str, sha256: &str, fake: bool) -> Option<ClockRule> {
    let usable = |p: &ClockProfile| (p.measured_by.backend == "fake") == fake;
    let same_build = |p: &ClockProfile| !sha256.is_empty() && p.kernel.sha256 == sha256;
    let rank = |p: &ClockProfile| (!same_build(p), p.clocksource != Clocksource::AcpiPm);
    profiles
        .iter()
        .filter(|(p, _)| usable(p) && (same_build(p) || p.kernel.release == release))
        .min_by_key(|(p, _)| rank(p))
        .and_then(|(p, source)| rule_from_profile(p, source, same_build(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_is_listed_and_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../profiles");
        let mut on_disk: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = SHIPPED.iter().map(|(f, _)| f.to_string()).collect();
        listed.sort();
        assert_eq!(on_disk, listed, "profiles/ and kernel::profiles::SHIPPED differ");
        for (file, text) in SHIPPED {
            let p: ClockProfile = serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(p.measured_by.backend, "qemu", "{file}: a shipped profile is measured on real guests");
            assert!(file.starts_with(&p.kernel.release), "{file} is named after its release {}", p.kernel.release);
            assert!(rule_from_profile(&p, file, true).is_some(), "{file} implies a rule");
        }
    }
}
