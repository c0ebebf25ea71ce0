//! The bounded queue every producer thread sends its messages through to the
//! one thread that owns the data channel. Sending never blocks: a full queue
//! drops the message and counts it against its producer.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use clockstorm_protocol::{Dropped, GuestMessage};

/// Messages the queue holds. At the default rates (10 windows, 10 tick
/// windows, 10 counter reads per second and vCPU) this is more than 10 s of
/// output: far beyond any stall of the channel the probe expects, while
/// bounding memory at well under a MiB.
pub const OUTBOX_CAPACITY: usize = 1024;

/// Who sent a message, for drop accounting.
#[derive(Debug, Clone, Copy)]
pub enum Producer {
    Sampler,
    Ticks,
    Kernel,
}

#[derive(Default)]
struct DropCounters {
    sampler: AtomicU64,
    ticks: AtomicU64,
    kernel: AtomicU64,
}

/// A mutex (a futex: a waiter sleeps) around a deque, on purpose not a
/// lock-free channel. std's bounded channel makes a receiver spin while a
/// sender that claimed a slot has not yet filled it; here the senders run
/// under SCHED_IDLE and the receiver (the channel thread) at nice -20 on the
/// same vCPU, so the receiver spun and the sender never got the CPU back to
/// finish: the probe went silent for 3.3 s, and once for good (seen in the
/// e2e suite). A sleeping waiter lets the holder run.
struct Queue {
    messages: Mutex<VecDeque<GuestMessage>>,
    capacity: usize,
    dropped: DropCounters,
    /// An eventfd the reader polls beside its data channel, written by
    /// [`Outbox::send_now`]: the reader otherwise drains the queue on its
    /// own schedule.
    wake: Option<OwnedFd>,
}

/// The sending side; cheap to clone into each producer.
#[derive(Clone)]
pub struct Outbox {
    queue: Arc<Queue>,
}

/// The receiving side, owned by the channel thread.
pub struct Inbox {
    queue: Arc<Queue>,
}

impl Outbox {
    pub fn new(capacity: usize) -> (Outbox, Inbox) {
        Self::with(capacity, None)
    }

    /// As [`Self::new`], with a wake-up for [`Self::send_now`] that the
    /// reader polls ([`Inbox::wake_fd`]).
    pub fn with_wake(capacity: usize) -> std::io::Result<(Outbox, Inbox)> {
        // SAFETY: plain syscall; the returned fd is checked and then owned.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd owned by nobody else.
        Ok(Self::with(capacity, Some(unsafe { OwnedFd::from_raw_fd(raw) })))
    }

    fn with(capacity: usize, wake: Option<OwnedFd>) -> (Outbox, Inbox) {
        let queue = Arc::new(Queue { messages: Mutex::new(VecDeque::with_capacity(capacity)), capacity, dropped: DropCounters::default(), wake });
        (Outbox { queue: queue.clone() }, Inbox { queue })
    }

    /// Queues `msg` and wakes the reader at once: for what it acts on
    /// (a gap starts a burst of exchanges). A system call, so only for
    /// rare messages.
    pub fn send_now(&self, from: Producer, msg: GuestMessage) -> bool {
        let queued = self.send(from, msg);
        if let (true, Some(fd)) = (queued, self.queue.wake.as_ref()) {
            let one = 1u64;
            // SAFETY: writing 8 bytes from a u64 to a valid eventfd. A full
            // counter (EAGAIN) still leaves the fd readable: nothing lost.
            unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
        queued
    }

    /// Queues `msg`; returns false (and counts) when it had to be dropped.
    pub fn send(&self, from: Producer, msg: GuestMessage) -> bool {
        {
            let mut q = self.queue.messages.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() < self.queue.capacity {
                q.push_back(msg);
                return true;
            }
        }
        let d = &self.queue.dropped;
        let counter = match from {
            Producer::Sampler => &d.sampler,
            Producer::Ticks => &d.ticks,
            Producer::Kernel => &d.kernel,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        false
    }

    pub fn dropped(&self) -> Dropped {
        let d = &self.queue.dropped;
        Dropped { sampler: d.sampler.load(Ordering::Relaxed), ticks: d.ticks.load(Ordering::Relaxed), kernel: d.kernel.load(Ordering::Relaxed) }
    }
}

impl Inbox {
    /// Everything queued so far, taken in one short hold of the lock.
    pub fn take_all(&self) -> VecDeque<GuestMessage> {
        std::mem::take(&mut *self.queue.messages.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Readable after a [`Outbox::send_now`] until [`clear_wake`]; None
    /// for a queue made without one.
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.queue.wake.as_ref().map(|fd| fd.as_fd())
    }
}

/// Resets a wake-up that poll found readable. A `send_now` between the
/// poll and this read is then taken by the reader's next drain, and at
/// worst wakes it once more for nothing; it is never lost.
pub fn clear_wake(fd: BorrowedFd<'_>) {
    let mut count = 0u64;
    // SAFETY: reading 8 bytes into a u64 from a valid non-blocking eventfd.
    unsafe { libc::read(fd.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (outbox, rx) = Outbox::new(2);
        let msg = || GuestMessage::Failure { message: "x".into() };
        assert!(outbox.send(Producer::Sampler, msg()));
        assert!(outbox.send(Producer::Ticks, msg()));
        assert!(!outbox.send(Producer::Kernel, msg()));
        assert!(!outbox.send(Producer::Sampler, msg()));
        assert_eq!(outbox.dropped(), Dropped { sampler: 1, ticks: 0, kernel: 1 });
        assert_eq!(rx.take_all().len(), 2);
        assert!(rx.take_all().is_empty());
        assert!(outbox.send(Producer::Kernel, msg()));
    }

    fn readable(fd: BorrowedFd<'_>) -> bool {
        let mut fds = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN)];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).unwrap() == 1
    }

    #[test]
    fn only_send_now_wakes_the_reader_and_a_clear_resets_it() {
        let (outbox, rx) = Outbox::with_wake(4).unwrap();
        let msg = || GuestMessage::Failure { message: "x".into() };
        let fd = rx.wake_fd().unwrap();
        assert!(outbox.send(Producer::Sampler, msg()));
        assert!(!readable(fd), "a plain send waits for the reader's own schedule");
        assert!(outbox.send_now(Producer::Sampler, msg()));
        assert!(outbox.send_now(Producer::Ticks, msg()));
        assert!(readable(fd));
        clear_wake(fd);
        assert!(!readable(fd), "one clear for any number of wake-ups");
        assert_eq!(rx.take_all().len(), 3);
        // A queue without a wake-up still sends now, into the queue.
        let (plain, prx) = Outbox::new(1);
        assert!(plain.send_now(Producer::Kernel, msg()) && prx.wake_fd().is_none());
        assert_eq!(prx.take_all().len(), 1);
    }
}
