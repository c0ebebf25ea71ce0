//! Ctrl-C handling. The first SIGINT/SIGTERM asks the runner to stop cleanly
//! (the current run is torn down and recorded as interrupted, the results
//! kept); a second one kills every QEMU process group at once and exits.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Exit code after an interruption (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNALS_SEEN: AtomicUsize = AtomicUsize::new(0);
static CHILD_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// True once the user asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Installs the handler thread (once per process).
pub fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        result = (|| {
            let mut signals = signal_hook::iterator::Signals::new([libc::SIGINT, libc::SIGTERM])?;
            std::thread::Builder::new().name("clockstorm-signals".into()).spawn(move || {
                for _ in signals.forever() {
                    if SIGNALS_SEEN.fetch_add(1, Ordering::SeqCst) == 0 {
                        INTERRUPTED.store(true, Ordering::SeqCst);
                        // Not inside a live progress status (the second
                        // Ctrl-C takes no lock: it must kill at once).
                        crate::output::sink::clear_live();
                        eprintln!("clockstorm: interrupted; stopping the current guest and keeping results (Ctrl-C again to kill now)");
                    } else {
                        kill_all_child_groups();
                        eprintln!("clockstorm: killed");
                        std::process::exit(EXIT_INTERRUPTED.into());
                    }
                }
            })?;
            Ok(())
        })();
    });
    result
}

pub(crate) fn register_child_group(pgid: i32) {
    CHILD_GROUPS.lock().unwrap_or_else(|e| e.into_inner()).push(pgid);
}

pub(crate) fn unregister_child_group(pgid: i32) {
    CHILD_GROUPS.lock().unwrap_or_else(|e| e.into_inner()).retain(|&g| g != pgid);
}

fn kill_all_child_groups() {
    for &pgid in CHILD_GROUPS.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}
