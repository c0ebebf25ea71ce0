//! A sampler's progress as the beacons report it: reads so far, and whether
//! the clock still gets past the highest value it reached. Checked every
//! `END_CHECK_EVERY` reads with the TSC as the only other clock, so a guest
//! whose timekeeping has stopped still shows it (N reads in a row did not
//! get past one value while the TSC ran on), whether the clock stands still
//! or runs over the same seconds again and again.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use clockstorm_protocol::{ClockId, SamplerProgress};

/// Whether a clock got past its highest value between checks; pure.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StillClock {
    high: Option<u64>,
    changed_tsc: u64,
    /// Reads since the clock last got past its highest value, and TSC ticks since then.
    pub unchanged_reads: u64,
    pub unchanged_tsc_ticks: u64,
    pub reads: u64,
}

impl StillClock {
    /// A new window (another clock): the comparison starts over; reads stay counted.
    pub fn reset(&mut self) {
        *self = StillClock { reads: self.reads, ..StillClock::default() };
    }

    /// A check after `reads` more reads: the clock read `value`, the TSC `tsc`.
    pub fn check(&mut self, value: u64, tsc: u64, reads: u64) {
        self.reads += reads;
        if self.high.is_some_and(|h| value <= h) {
            self.unchanged_reads += reads;
            self.unchanged_tsc_ticks = tsc.wrapping_sub(self.changed_tsc);
        } else {
            self.high = Some(value);
            self.changed_tsc = tsc;
            self.unchanged_reads = 0;
            self.unchanged_tsc_ticks = 0;
        }
    }

    pub fn value(&self) -> u64 {
        self.high.unwrap_or(0)
    }
}

/// One sampler's published progress (relaxed atomics: a beacon may see a
/// check half-published, which only shifts a count by one block).
pub struct SamplerLive {
    cpu: u32,
    clock: AtomicU8,
    reads: AtomicU64,
    unchanged_reads: AtomicU64,
    unchanged_tsc_ticks: AtomicU64,
    value_ns: AtomicU64,
}

const NO_CLOCK: u8 = u8::MAX;

impl SamplerLive {
    pub fn new(cpu: u32) -> Self {
        SamplerLive {
            cpu,
            clock: AtomicU8::new(NO_CLOCK),
            reads: AtomicU64::new(0),
            unchanged_reads: AtomicU64::new(0),
            unchanged_tsc_ticks: AtomicU64::new(0),
            value_ns: AtomicU64::new(0),
        }
    }

    pub fn set_clock(&self, clock: ClockId) {
        let i = ClockId::ALL.iter().position(|&c| c == clock).unwrap_or(NO_CLOCK as usize);
        self.clock.store(i as u8, Ordering::Relaxed);
    }

    pub fn publish(&self, s: &StillClock) {
        self.reads.store(s.reads, Ordering::Relaxed);
        self.unchanged_reads.store(s.unchanged_reads, Ordering::Relaxed);
        self.unchanged_tsc_ticks.store(s.unchanged_tsc_ticks, Ordering::Relaxed);
        self.value_ns.store(s.value(), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> SamplerProgress {
        SamplerProgress {
            cpu: self.cpu,
            clock: ClockId::ALL.get(self.clock.load(Ordering::Relaxed) as usize).copied(),
            reads: self.reads.load(Ordering::Relaxed),
            unchanged_reads: self.unchanged_reads.load(Ordering::Relaxed),
            unchanged_tsc_ticks: self.unchanged_tsc_ticks.load(Ordering::Relaxed),
            value_ns: self.value_ns.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_clock_never_counts_as_unchanged() {
        let mut s = StillClock::default();
        for i in 0..10 {
            s.check(1_000 + i * 100, 50 + i * 30, 1024);
        }
        assert_eq!((s.reads, s.unchanged_reads, s.unchanged_tsc_ticks), (10 * 1024, 0, 0));
    }

    #[test]
    fn a_stopped_clock_counts_reads_and_tsc_ticks_until_it_moves_again() {
        let mut s = StillClock::default();
        s.check(5_000, 100, 1024);
        s.check(5_000, 1_100, 1024);
        s.check(5_000, 2_100, 1024);
        assert_eq!((s.unchanged_reads, s.unchanged_tsc_ticks, s.value()), (2048, 2_000, 5_000));
        s.check(5_001, 2_200, 1024);
        assert_eq!((s.unchanged_reads, s.unchanged_tsc_ticks), (0, 0));
        // A step back does not get past the highest value: counted until it does.
        s.check(4_000, 2_300, 1024);
        s.check(4_900, 2_400, 1024);
        assert_eq!((s.unchanged_reads, s.unchanged_tsc_ticks, s.value()), (2048, 200, 5_001));
        s.check(5_002, 2_500, 1024);
        assert_eq!(s.unchanged_reads, 0);
    }

    #[test]
    fn published_progress_round_trips() {
        let live = SamplerLive::new(3);
        let mut s = StillClock::default();
        s.check(7, 1, 1024);
        s.check(7, 9, 1024);
        live.set_clock(ClockId::MonotonicRaw);
        live.publish(&s);
        let p = live.snapshot();
        assert_eq!((p.cpu, p.clock, p.reads, p.unchanged_reads, p.unchanged_tsc_ticks, p.value_ns), (3, Some(ClockId::MonotonicRaw), 2048, 1024, 8, 7));
    }
}
