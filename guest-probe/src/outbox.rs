//! The bounded queue every producer thread sends its messages through to the
//! one thread that owns the data channel. Sending never blocks: a full queue
//! drops the message and counts it against its producer.

use std::collections::VecDeque;
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
        let queue = Arc::new(Queue { messages: Mutex::new(VecDeque::with_capacity(capacity)), capacity, dropped: DropCounters::default() });
        (Outbox { queue: queue.clone() }, Inbox { queue })
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
}
