//! QMP pauses as the guest clock sees them: when the VM was stopped and how
//! much host time all pauses took.
//!
//! The one writer is the QMP thread ("QEMU"), which must answer `stop` and
//! `cont` whatever the guest's threads do; a guest thread can be frozen by
//! the cgroup freezer at any instruction, so the readers take no lock the
//! writer would wait for. A sequence counter (a seqlock) keeps a reader from
//! seeing a pause half-recorded: odd while the writer writes, and a reader
//! that saw it change reads again.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Mutex;

#[derive(Default)]
pub struct PauseLedger {
    seq: AtomicU64,
    /// Host CLOCK_MONOTONIC when the current pause began; 0: running.
    since_ns: AtomicU64,
    /// Host time of all pauses that ended, in ns.
    completed_ns: AtomicU64,
    /// Serialises writers (QMP clients come one at a time; this makes it
    /// hold for any caller). Never taken by a reader.
    writer: Mutex<()>,
}

impl PauseLedger {
    /// Pauses at host time `host_ns`; false when already paused (QEMU then
    /// emits no STOP event).
    pub fn stop(&self, host_ns: u64) -> bool {
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if self.since_ns.load(SeqCst) != 0 {
            return false;
        }
        self.write(|| self.since_ns.store(host_ns.max(1), SeqCst));
        true
    }

    /// Resumes at host time `host_ns`; the pause's length, or None when
    /// not paused (QEMU then emits no RESUME event).
    pub fn cont(&self, host_ns: u64) -> Option<u64> {
        let _w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let since = self.since_ns.load(SeqCst);
        if since == 0 {
            return None;
        }
        let length = host_ns.saturating_sub(since);
        self.write(|| {
            self.completed_ns.fetch_add(length, SeqCst);
            self.since_ns.store(0, SeqCst);
        });
        Some(length)
    }

    pub fn is_paused(&self) -> bool {
        self.since_ns.load(SeqCst) != 0
    }

    /// Host time spent paused up to `host_ns`, the pause in progress included.
    pub fn total_at(&self, host_ns: u64) -> u64 {
        loop {
            let s = self.seq.load(SeqCst);
            if s & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let since = self.since_ns.load(SeqCst);
            let completed = self.completed_ns.load(SeqCst);
            if self.seq.load(SeqCst) == s {
                let ongoing = if since == 0 { 0 } else { host_ns.saturating_sub(since) };
                return completed + ongoing;
            }
        }
    }

    /// One write section (the writer lock is held by the caller).
    fn write(&self, f: impl FnOnce()) {
        self.seq.fetch_add(1, SeqCst);
        f();
        self.seq.fetch_add(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_add_up_and_the_one_in_progress_counts_so_far() {
        let p = PauseLedger::default();
        assert!(!p.is_paused());
        assert_eq!(p.cont(5), None, "cont while running does nothing");
        assert!(p.stop(100));
        assert!(!p.stop(150), "stop while paused does nothing");
        assert!(p.is_paused());
        assert_eq!(p.total_at(130), 30);
        assert_eq!(p.cont(400), Some(300));
        assert_eq!(p.total_at(1_000), 300);
        assert!(p.stop(2_000));
        assert_eq!(p.total_at(2_050), 350);
        assert_eq!(p.cont(2_100), Some(100));
        assert_eq!(p.total_at(9_000), 400);
    }
}
