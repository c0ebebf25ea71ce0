//! The owner of a running guest process (QEMU, or the fake guest). Its `Drop`
//! and [`GuestProcess::shutdown`] are
//! the same idempotent teardown, so QEMU goes away on success, error, panic
//! (unwinding) and Ctrl-C alike; a harness killed outright takes QEMU with it
//! through PR_SET_PDEATHSIG, and its guardian (`crate::guardian`) kills the
//! group again once it has thawed whatever held QEMU's threads.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::guardian::{self, proc_stat, Item, Watch};
use crate::signals;

/// How long QEMU gets to exit after SIGTERM before it is killed. QEMU handles
/// SIGTERM by shutting down at once; it needs milliseconds, not seconds.
pub const TERM_GRACE: Duration = Duration::from_secs(3);

/// Poll interval while waiting for QEMU to exit.
const REAP_POLL: Duration = Duration::from_millis(10);

/// Errors starting or stopping QEMU.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("starting {binary}: {source}")]
    Spawn { binary: String, source: std::io::Error },
    #[error("the guest process (process group {pgid}) still has processes after SIGKILL")]
    Survivors { pgid: i32 },
}

/// A guest child (QEMU or the fake guest) in its own process group.
pub struct GuestProcess {
    child: Child,
    pgid: i32,
    exit: Option<ExitStatus>,
    /// The guardian kills the group if the harness dies before reaping it.
    watch: Option<Watch>,
}

impl GuestProcess {
    /// Starts `binary args` with stdout piped (the guest console), stderr to
    /// `stderr_log`, stdin closed. Returns the guard and the console pipe.
    /// With `cpus`, QEMU (every thread it starts) runs only on those host CPUs.
    pub fn spawn(binary: &Path, args: &[OsString], stderr_log: &Path, cpus: Option<&[usize]>) -> Result<(GuestProcess, ChildStdout), GuardError> {
        let spawn_err = |source| GuardError::Spawn { binary: binary.display().to_string(), source };
        let stderr = std::fs::File::create(stderr_log).map_err(spawn_err)?;
        let mut cmd = Command::new(binary);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr);
        // Own process group: the terminal's Ctrl-C reaches only the harness,
        // which then tears QEMU down in order (and keeps the results).
        cmd.process_group(0);
        // The CPU set is built before the fork, so the child only makes syscalls.
        let affinity = cpus.map(|cpus| {
            // SAFETY: cpu_set_t is a plain array of integers, for which all-zero is a valid value (the empty set).
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for &c in cpus {
                // SAFETY: CPU_SET only ORs one bit into `set.bits` through a bounds-checked index (a CPU past
                // CPU_SETSIZE would panic, not write out of bounds); it is `unsafe` only by libc's convention.
                unsafe { libc::CPU_SET(c, &mut set) };
            }
            set
        });
        // PDEATHSIG fires when the spawning *thread* exits; runs spawn QEMU
        // from the thread that also waits for it.
        // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe work is allowed:
        // it makes two raw syscalls (prctl, and sched_setaffinity on the cpu_set_t moved in, built before the fork)
        // and on error builds an `io::Error` from errno, which does not allocate; it takes no locks and touches
        // only the child.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some(set) = &affinity {
                    if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(spawn_err)?;
        let stdout = child.stdout.take().expect("stdout was piped");
        let pgid = child.id() as i32;
        signals::register_child_group(pgid);
        // Read right after the fork: the child cannot have exited and been
        // reaped yet, since only this process reaps it.
        let watch = proc_stat::read(Path::new("/proc"), child.id()).map(|s| guardian::watch(Item::Process { pid: child.id(), start_time: s.start_time }));
        Ok((GuestProcess { child, pgid, exit: None, watch }, stdout))
    }

    /// The QEMU process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// QEMU's exit status if it has exited, without blocking.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `timeout` for QEMU to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(REAP_POLL);
        }
    }

    /// SIGTERM to the group, [`TERM_GRACE`], SIGKILL, reap, then check that
    /// nothing in the group survived. Safe to call any number of times.
    pub fn shutdown(&mut self) -> Result<Option<ExitStatus>, GuardError> {
        let group = Pid::from_raw(self.pgid);
        if self.try_wait().is_none() {
            let _ = killpg(group, Signal::SIGTERM);
            if self.wait_timeout(TERM_GRACE).is_none() {
                let _ = killpg(group, Signal::SIGKILL);
                self.exit = self.child.wait().ok();
            }
        }
        // QEMU is reaped; anything it forked would still be in its group.
        let _ = killpg(group, Signal::SIGKILL);
        let result = match killpg(group, None) {
            Err(Errno::ESRCH) => {
                self.watch = None;
                Ok(self.exit)
            }
            _ => Err(GuardError::Survivors { pgid: self.pgid }),
        };
        signals::unregister_child_group(self.pgid);
        result
    }
}

impl Drop for GuestProcess {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("clockstorm: {e}");
        }
    }
}
