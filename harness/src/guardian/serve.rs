//! The guardian process (`clockstorm guardian`, hidden): reads orders until
//! `done` or end of input, then undoes whatever is still watched. The end of
//! input comes when the harness's last file descriptor to the pipe closes,
//! i.e. when the harness dies, by whatever signal, SIGKILL included.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use nix::sys::signal::{signal, SigHandler, Signal};

use super::order::{Item, Order};
use super::undo::undo_all;

/// Serves orders from `input`; returns the exit code (0 unless the cleanup
/// left something behind).
pub fn serve(input: impl BufRead, harness_pid: u32, log: Option<&Path>) -> u8 {
    let mut watched: BTreeMap<u64, Item> = BTreeMap::new();
    let mut orderly = false;
    for line in input.lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Order>(&line) {
            Ok(Order::Watch { id, item }) => {
                watched.insert(id, item);
            }
            Ok(Order::Forget { id }) => {
                watched.remove(&id);
            }
            Ok(Order::Done) => {
                orderly = true;
                break;
            }
            Err(e) => say(log, &format!("ignoring an order it cannot read ({e}): {line:?}")),
        }
    }
    if watched.is_empty() {
        return 0;
    }
    let started = Instant::now();
    let undone = undo_all(&watched, Path::new("/proc"));
    let why = if orderly { "exited with faults still in place" } else { "died without undoing its faults" };
    let mut text = format!("the harness (pid {harness_pid}) {why}; undone in {} ms:", started.elapsed().as_millis());
    for line in &undone.done {
        text.push_str(&format!("\n  {line}"));
    }
    for line in &undone.failed {
        text.push_str(&format!("\n  FAILED: {line}"));
    }
    say(log, &text);
    u8::from(!undone.failed.is_empty())
}

/// The guardian process's entry point: keeps off the terminal's signals
/// (the harness handles Ctrl-C; the guardian must outlive it) and serves stdin.
pub fn run(harness_pid: u32, log: Option<&Path>) -> u8 {
    for sig in [Signal::SIGINT, Signal::SIGQUIT, Signal::SIGHUP, Signal::SIGTSTP] {
        // SAFETY: SIG_IGN installs no handler code, so nothing can run in signal context.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    serve(std::io::stdin().lock(), harness_pid, log)
}

/// One message to stderr (which may be a closed pipe by now) and to the log.
fn say(log: Option<&Path>, text: &str) {
    let _ = writeln!(std::io::stderr(), "clockstorm guardian: {text}");
    if let Some(path) = log {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(orders: &[Order]) -> String {
        orders.iter().map(Order::to_line).collect()
    }

    #[test]
    fn end_of_input_undoes_what_was_not_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, forgotten) = (dir.path().join("kept"), dir.path().join("forgotten"));
        std::fs::create_dir(&kept).unwrap();
        std::fs::create_dir(&forgotten).unwrap();
        let log = dir.path().join("guardian.log");
        let input = lines(&[
            Order::Watch { id: 1, item: Item::RemoveDir { path: kept.clone() } },
            Order::Watch { id: 2, item: Item::RemoveDir { path: forgotten.clone() } },
            Order::Forget { id: 2 },
        ]) + "not json\n";
        assert_eq!(serve(input.as_bytes(), 77, Some(&log)), 0);
        assert!(!kept.exists());
        assert!(forgotten.exists());
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(log.contains("cannot read"), "{log}");
        assert!(log.contains("the harness (pid 77) died without undoing its faults"), "{log}");
        assert!(log.contains(&format!("removed {}", kept.display())), "{log}");
    }

    #[test]
    fn done_with_nothing_watched_is_silent() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("guardian.log");
        let input = lines(&[Order::Watch { id: 1, item: Item::RemoveDir { path: dir.path().join("x") } }, Order::Forget { id: 1 }, Order::Done]);
        assert_eq!(serve(input.as_bytes(), 1, Some(&log)), 0);
        assert!(!log.exists());
    }
}
