//! The `owner` file of a private socket dir: the harness's pid and start
//! time, so a later sweep can tell a live run's dir from a dead one's.

use std::path::Path;

use crate::guardian::{self, proc_stat, Item, Watch};

/// The name of the owner file inside a private dir.
pub(super) const OWNER_FILE: &str = "owner";

/// Marks `dir` as this harness's (an `owner` file) and has the guardian
/// remove it if the harness dies before the dir's own guard does.
pub fn own_private_dir(dir: &Path) -> std::io::Result<Watch> {
    let me = std::process::id();
    let start = proc_stat::read(Path::new("/proc"), me).map(|s| s.start_time).unwrap_or(0);
    std::fs::write(dir.join(OWNER_FILE), format!("{me} {start}\n"))?;
    Ok(guardian::watch(Item::TempDir { path: dir.to_path_buf() }))
}

/// `(pid, start_time)` from an owner file's text.
pub(super) fn parse(text: &str) -> Option<(u32, u64)> {
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}
