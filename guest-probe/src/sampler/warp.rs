//! The cross-vCPU check (the kvm-unit-tests warp counter): under one lock, a
//! vCPU reads the clock and compares it with the last value any vCPU read.
//! Reading under the lock makes "last" truly earlier, so a smaller value is a
//! real warp, not a race.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clockstorm_protocol::ClockId;

#[derive(Default)]
pub struct WarpCheck {
    lock: AtomicBool,
    last: [AtomicU64; 3],
}

fn slot(clock: ClockId) -> usize {
    match clock {
        ClockId::Monotonic => 0,
        ClockId::MonotonicRaw => 1,
        ClockId::Realtime => 2,
    }
}

impl WarpCheck {
    /// Reads `clock` with `read` under the lock; returns the value read and
    /// how far it was behind the last value any vCPU read (0 if not behind).
    #[inline]
    pub fn check(&self, clock: ClockId, read: impl FnOnce() -> u64) -> (u64, u64) {
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        let now = read();
        let last = &self.last[slot(clock)];
        let prev = last.load(Ordering::Relaxed);
        let behind = prev.saturating_sub(now);
        if now > prev {
            last.store(now, Ordering::Relaxed);
        }
        self.lock.store(false, Ordering::Release);
        (now, behind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_older_than_the_last_seen_is_a_warp() {
        let w = WarpCheck::default();
        assert_eq!(w.check(ClockId::Monotonic, || 100), (100, 0));
        assert_eq!(w.check(ClockId::Monotonic, || 150), (150, 0));
        assert_eq!(w.check(ClockId::Monotonic, || 120), (120, 30));
        // Clocks are tracked separately.
        assert_eq!(w.check(ClockId::Realtime, || 5), (5, 0));
        assert_eq!(w.check(ClockId::Monotonic, || 151), (151, 0));
    }

    #[test]
    fn threads_that_only_move_forward_never_warp() {
        let w = std::sync::Arc::new(WarpCheck::default());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || (0..20_000).map(|_| w.check(ClockId::Monotonic, crate::clocks::monotonic_ns).1).max().unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 0);
        }
    }
}
