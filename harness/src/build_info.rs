//! Which build this is: the package version and the commit it was built
//! from (harness/build.rs), as `--version` prints it and the manifest
//! records it, so `clockstorm merge` can tell two builds apart.

/// The commit, a `-dirty` mark when the tree had changes, and the
/// commit's date (`abc1234 2026-12-01`); `unknown` outside git.
pub const BUILD: &str = env!("CLOCKSTORM_BUILD");

/// `0.1.0 (abc1234 2026-12-01)`: `--version` and the manifest's
/// `clockstorm_version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CLOCKSTORM_BUILD"), ")");

/// The release part of a version string (`0.1.0` of `0.1.0 (abc1234 …)`).
pub fn release_of(version: &str) -> &str {
    version.split_whitespace().next().unwrap_or(version)
}

/// Whether a version string names its commit (a build outside git, or a
/// manifest of a build before this one, does not).
pub fn names_a_commit(version: &str) -> bool {
    version.contains('(') && !version.contains("(unknown)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_release_then_the_build() {
        assert!(VERSION.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (")), "{VERSION}");
        assert!(VERSION.ends_with(')'), "{VERSION}");
        assert_eq!(release_of(VERSION), env!("CARGO_PKG_VERSION"));
        assert_eq!(release_of("0.1.0"), "0.1.0");
        // Built in a clone this is a commit and a date; from a tarball, unknown.
        let build = BUILD.trim();
        assert!(build == "unknown" || build.split(' ').count() == 2, "{build}");
        assert!(!names_a_commit("0.1.0") && !names_a_commit("0.1.0 (unknown)") && names_a_commit("0.1.0 (abc1234 2026-12-01)"));
    }
}
