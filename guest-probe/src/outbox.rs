//! The bounded queue every producer thread sends its messages through to the
//! one thread that owns the data channel. Sending never blocks: a full queue
//! drops the message and counts it against its producer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

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

/// The sending side; cheap to clone into each producer.
#[derive(Clone)]
pub struct Outbox {
    tx: SyncSender<GuestMessage>,
    dropped: Arc<DropCounters>,
}

impl Outbox {
    pub fn new(capacity: usize) -> (Outbox, Receiver<GuestMessage>) {
        let (tx, rx) = sync_channel(capacity);
        (Outbox { tx, dropped: Arc::default() }, rx)
    }

    /// Queues `msg`; returns false (and counts) when it had to be dropped.
    pub fn send(&self, from: Producer, msg: GuestMessage) -> bool {
        if self.tx.try_send(msg).is_ok() {
            return true;
        }
        let counter = match from {
            Producer::Sampler => &self.dropped.sampler,
            Producer::Ticks => &self.dropped.ticks,
            Producer::Kernel => &self.dropped.kernel,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        false
    }

    pub fn dropped(&self) -> Dropped {
        Dropped {
            sampler: self.dropped.sampler.load(Ordering::Relaxed),
            ticks: self.dropped.ticks.load(Ordering::Relaxed),
            kernel: self.dropped.kernel.load(Ordering::Relaxed),
        }
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
        assert_eq!(rx.try_iter().count(), 2);
        assert!(outbox.send(Producer::Kernel, msg()));
    }
}
