//! Private socket dirs (`<tmp>/clockstorm-*`) of harnesses that are gone.

use std::time::{Duration, SystemTime};

use super::owner::{self, OWNER_FILE};
use super::{Finding, Roots};
use crate::guardian::proc_stat;

/// A dir without an owner file (from a build before owner files) counts as
/// left behind once nothing has touched it for this long; a run's sockets
/// are made in its first seconds.
const UNOWNED_AGE: Duration = Duration::from_secs(3600);

pub(super) fn sweep(roots: &Roots) -> Vec<Finding> {
    let Ok(entries) = std::fs::read_dir(&roots.tmp) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry.file_name().to_string_lossy().starts_with("clockstorm-") && path.is_dir();
        if !is_ours {
            continue;
        }
        let why = match std::fs::read_to_string(path.join(OWNER_FILE)).ok().as_deref().map(owner::parse) {
            Some(Some((pid, start))) => match proc_stat::read(&roots.proc, pid) {
                Some(s) if s.start_time == start && !s.is_dead() => continue,
                _ => format!("its harness, process {pid}, is gone"),
            },
            Some(None) => continue,
            None => {
                let has_sockets = ["data.sock", "qmp.sock"].iter().any(|s| path.join(s).exists());
                let age = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| SystemTime::now().duration_since(t).ok());
                if !has_sockets || age.is_none_or(|a| a < UNOWNED_AGE) {
                    continue;
                }
                format!("it has no owner file and is {} h old", age.unwrap_or_default().as_secs() / 3600)
            }
        };
        let done = match std::fs::remove_dir_all(&path) {
            Ok(()) => "removed".to_string(),
            Err(e) => format!("could not remove it: {e}"),
        };
        found.push(Finding { what: format!("private dir {} ({why})", path.display()), done });
    }
    found
}
