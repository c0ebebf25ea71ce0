//! The host side of the shared-memory time reference for one run: a 4 KiB
//! file in the run's private directory, mapped here and given to QEMU as an
//! `ivshmem-plain` device (`memory-backend-file,share=on`), which the probe
//! maps through the PCI BAR in sysfs. The probe writes a request (t1); a
//! thread here answers with this host's CLOCK_REALTIME (t2); the probe
//! takes t3 when it sees the answer (clockstorm_protocol::shm). A round trip
//! is a few cache-line transfers instead of a virtio-serial message each way.
//!
//! The thread spins only while an exchange is due: the probe announces its
//! period; after each answer the thread keeps spinning a little (bursts
//! after a gap come back to back), then sleeps until shortly before the next
//! exchange is due and spins from there. When no request comes (the guest
//! is frozen, or has no such device), it falls back to polling every
//! millisecond: answers stay correct, only wider. The file goes with the
//! private directory; the mapping and the thread go when this is dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clockstorm_protocol::shm::{HostSide, SHM_BYTES, SHM_WORDS};

/// The backing file's name in the private directory.
pub const FILE_NAME: &str = "reference.shm";
/// Spin this long after an answer: a burst's next request usually comes
/// within it (after the data channel's exchange, under TCG ~0.6-1 ms).
pub const SPIN_AFTER_ANSWER: Duration = Duration::from_micros(1500);
/// Start spinning this long before the next exchange is due, counted from
/// the last answer: the guest keeps its own schedule, so it comes early by
/// as much as the last exchange was late (its wake-up latency, under TCG
/// about a millisecond). Measured: with 3 ms before and 5 ms after each
/// answer the thread took 7.8 % of a core at the default 100 ms period.
pub const SPIN_LEAD: Duration = Duration::from_millis(2);
/// Give up spinning this long after the exchange was due: the guest is late
/// (frozen, descheduled); poll every [`IDLE_POLL`] until it asks.
pub const SPIN_LATE: Duration = Duration::from_millis(20);
/// How often to look for a request while not spinning.
pub const IDLE_POLL: Duration = Duration::from_millis(1);

/// A mapping of the reference file, owned by the thread that answers on it
/// and unmapped when that thread ends.
struct Mapping {
    ptr: *mut libc::c_void,
}

// SAFETY: the mapping is plain shared memory accessed only through atomics.
unsafe impl Send for Mapping {}
// SAFETY: as above; every access is an atomic load or store.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `ptr` is a live MAP_SHARED mapping of SHM_BYTES bytes,
        // page-aligned (so aligned for u64), that outlives every borrow
        // (unmapped in Drop, which cannot run while `self` is borrowed); AtomicU64 has the
        // layout of u64, and all access is atomic.
        unsafe { std::slice::from_raw_parts(self.ptr as *const AtomicU64, SHM_WORDS) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from mmap with this length and is unmapped once.
        unsafe {
            libc::munmap(self.ptr, SHM_BYTES);
        }
    }
}

/// The running host side; dropping it stops the thread and unmaps the file.
pub struct SharedReference {
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    answered: Arc<AtomicU64>,
}

impl SharedReference {
    /// Creates and maps the file in `dir` (private), initialises the page
    /// and starts answering.
    pub fn start(dir: &Path) -> std::io::Result<SharedReference> {
        let path = dir.join(FILE_NAME);
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        file.set_len(SHM_BYTES as u64)?;
        // SAFETY: a fresh shared mapping of a file we own and sized above;
        // the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), SHM_BYTES, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, std::os::fd::AsRawFd::as_raw_fd(&file), 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let mapping = Mapping { ptr };
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        // The page is initialised before this returns (so before QEMU starts).
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::Builder::new().name("shm-reference".into()).spawn(move || {
                match HostSide::init(mapping.words()) {
                    Ok(host) => {
                        let _ = ready_tx.send(Ok(()));
                        answer_loop(host, &stop, &answered);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
                drop(mapping);
            })?
        };
        let ready = ready_rx.recv().unwrap_or_else(|_| Err("the reference thread ended at once".into()));
        let reference = SharedReference { path, stop, thread: Some(thread), answered };
        ready.map_err(std::io::Error::other)?;
        Ok(reference)
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

impl Drop for SharedReference {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn realtime_ns() -> i64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME).expect("CLOCK_REALTIME is always readable");
    t.tv_sec() * 1_000_000_000 + t.tv_nsec()
}

/// When to spin, from the last answer and when the guest said it will ask
/// next (else its period). Pure.
pub fn spin_window(last_answer: Option<Instant>, next_in: Option<Duration>, period: Duration, now: Instant) -> bool {
    let Some(last) = last_answer else { return false };
    let since = now.saturating_duration_since(last);
    if since <= SPIN_AFTER_ANSWER {
        return true;
    }
    if let Some(next) = next_in {
        // The guest is never early on its own schedule, only late.
        return since + SPIN_LEAD >= next && since <= next + SPIN_LATE;
    }
    if period.is_zero() {
        return false;
    }
    // Every period after the last answer, from SPIN_LEAD before to SPIN_LATE after.
    let into = since.as_nanos() % period.as_nanos();
    let into = Duration::from_nanos(into as u64);
    into + SPIN_LEAD >= period || (since >= period && into <= SPIN_LATE)
}

fn answer_loop(mut host: HostSide<'_>, stop: &AtomicBool, answered: &AtomicU64) {
    let mut last_answer: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        if host.poll(realtime_ns).is_some() {
            answered.fetch_add(1, Ordering::Relaxed);
            last_answer = Some(Instant::now());
            continue;
        }
        let period = Duration::from_nanos(host.guest_period_ns());
        let next_in = host.guest_next_in_ns().map(Duration::from_nanos);
        if spin_window(last_answer, next_in, period, Instant::now()) {
            std::hint::spin_loop();
        } else {
            std::thread::sleep(IDLE_POLL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_spins_after_an_answer_and_around_each_due_exchange_only() {
        let t0 = Instant::now();
        let p = Duration::from_millis(100);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(!spin_window(None, None, p, at(50)), "nothing asked yet: poll");
        assert!(spin_window(Some(t0), None, p, at(1)), "a burst may follow");
        assert!(!spin_window(Some(t0), None, p, at(50)), "mid-period: sleep");
        assert!(spin_window(Some(t0), None, p, at(99)), "due soon");
        assert!(spin_window(Some(t0), None, p, at(115)), "due and late");
        assert!(!spin_window(Some(t0), None, p, at(125)), "too late: poll");
        assert!(spin_window(Some(t0), None, p, at(299)), "two periods on: spin again around the due time");
        assert!(!spin_window(Some(t0), None, Duration::ZERO, at(50)), "no period announced");
        // The guest said when: around that, whatever the period.
        let next = Some(Duration::from_millis(97));
        assert!(!spin_window(Some(t0), next, p, at(90)));
        assert!(spin_window(Some(t0), next, p, at(96)) && spin_window(Some(t0), next, p, at(104)));
        assert!(!spin_window(Some(t0), next, p, at(118)), "late beyond the window: poll");
        assert!(spin_window(Some(t0), Some(Duration::ZERO), p, at(5)), "a burst: at once");
    }
}
