//! Build information for `clockstorm --version` and the manifest: the
//! commit, whether the tree had changes, and the commit's date, as
//! `CLOCKSTORM_BUILD` (`abc1234 2026-12-01`, `abc1234-dirty 2026-12-01`,
//! or `unknown` when built outside git, e.g. from a tarball).
//!
//! `CLOCKSTORM_BUILD_INFO` in the environment replaces what git says (a
//! packager building from a tarball can name the commit it came from).
//!
//! Cargo runs this again when HEAD moves (the HEAD file and the ref it
//! points to, in a plain clone or a worktree, where `.git` is a file) and
//! when a source file of the workspace changes (so `-dirty` follows edits).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CLOCKSTORM_BUILD_INFO");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest_dir).parent().unwrap_or(Path::new(".")).to_owned();
    for watched in ["harness/src", "harness/Cargo.toml", "protocol/src", "reports/src", "guest-probe/src", "Cargo.toml"] {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let info = match std::env::var("CLOCKSTORM_BUILD_INFO") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => from_git(&root).unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=CLOCKSTORM_BUILD={info}");
}

/// `git` in `dir`, its trimmed stdout when it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).env("TZ", "UTC").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `abc1234[-dirty] YYYY-MM-DD`, or None outside a git work tree.
fn from_git(root: &Path) -> Option<String> {
    if git(root, &["rev-parse", "--is-inside-work-tree"]).as_deref() != Some("true") {
        return None;
    }
    // Rerun when HEAD moves: the HEAD file, the branch it names, packed refs
    // (`--git-path` resolves each in a worktree too).
    let mut watch = vec!["HEAD".to_owned(), "packed-refs".to_owned(), "index".to_owned()];
    if let Some(branch) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for name in watch {
        if let Some(p) =
            git(root, &["rev-parse", "--path-format=absolute", "--git-path", &name]).or_else(|| git(root, &["rev-parse", "--git-path", &name]))
        {
            let p = if Path::new(&p).is_absolute() { Path::new(&p).to_owned() } else { root.join(p) };
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let commit = git(root, &["rev-parse", "--short=7", "HEAD"])?;
    let date = git(root, &["show", "-s", "--format=%cd", "--date=format-local:%Y-%m-%d", "HEAD"])?;
    let dirty = git(root, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(format!("{commit}{} {date}", if dirty { "-dirty" } else { "" }))
}
