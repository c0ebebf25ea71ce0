//! The harness's side: start the guardian, tell it what to watch and what to
//! forget. One guardian per process, reached through a global link so the
//! code that sets a fault up (deep in the cgroup or process guards) needs no
//! handle passed down; without a guardian (unit tests, `report`) every call
//! is a no-op.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::order::{Item, Order};

struct Link {
    stdin: ChildStdin,
    child: Child,
}

static LINK: Mutex<Option<Link>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// How long a finishing harness waits for its guardian to exit.
const FINISH_WAIT: Duration = Duration::from_secs(5);

fn link() -> std::sync::MutexGuard<'static, Option<Link>> {
    LINK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends one order; a guardian that went away is reported once and unlinked
/// (the in-process guards still undo everything but a SIGKILL).
fn send(order: &Order) {
    let mut link = link();
    if let Some(l) = link.as_mut() {
        if let Err(e) = l.stdin.write_all(order.to_line().as_bytes()) {
            eprintln!("clockstorm: warning: the guardian is gone ({e}); a harness killed now would leave its faults in place");
            *link = None;
        }
    }
}

/// The guardian of this process while it lives; dropping it ends the
/// guardian orderly (it undoes whatever is still watched, normally nothing).
#[must_use = "the guardian is told the harness is done when this is dropped"]
pub struct Session {
    owner: bool,
}

/// Starts the guardian (unless this process already has one), writing what it
/// undoes to `log` as well as to stderr.
pub fn start(log: &Path) -> std::io::Result<Session> {
    let mut link = link();
    if link.is_some() {
        return Ok(Session { owner: false });
    }
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("guardian").arg("--harness-pid").arg(std::process::id().to_string()).arg("--log").arg(log);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::inherit());
    // SAFETY: runs in the forked child before exec; setsid is one async-signal-safe syscall.
    unsafe {
        // Its own session: neither the terminal's Ctrl-C nor a kill of the
        // harness's process group reaches it.
        cmd.pre_exec(|| nix::unistd::setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take().expect("stdin was piped");
    *link = Some(Link { stdin, child });
    Ok(Session { owner: true })
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        send(&Order::Done);
        if let Some(mut l) = link().take() {
            drop(l.stdin);
            let deadline = Instant::now() + FINISH_WAIT;
            while l.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Something the guardian undoes unless this is dropped first (the harness
/// undid it itself).
#[derive(Debug)]
#[must_use = "dropping a Watch tells the guardian the item is undone"]
pub struct Watch {
    id: Option<u64>,
}

/// Asks the guardian to undo `item` if the harness dies before dropping the
/// returned [`Watch`].
pub fn watch(item: Item) -> Watch {
    if link().is_none() {
        return Watch { id: None };
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    send(&Order::Watch { id, item });
    Watch { id: Some(id) }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            send(&Order::Forget { id });
        }
    }
}
