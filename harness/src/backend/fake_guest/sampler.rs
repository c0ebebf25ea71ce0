//! A sampler's bookkeeping, the probe's in miniature; pure. One window
//! summarises the reads of one clock: their intervals, the longest and where
//! it ended, steps back, and the TSC against the clock between the first and
//! last TSC bracket. The progress a beacon reports says whether the clock
//! still gets past the highest value it reached.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

use clockstorm_protocol::{ClockId, DeltaStats, SamplerProgress, Window};

use clockstorm_protocol::histogram::Histogram;

/// Per-window bookkeeping of one sampler.
#[derive(Default)]
pub struct WindowAcc {
    window: Window,
    deltas: Histogram,
    max_delta: u64,
    first_tsc: Option<(u64, u64)>,
    last_tsc: Option<(u64, u64)>,
}

impl WindowAcc {
    /// Starts window `index` at guest CLOCK_MONOTONIC `mono`.
    pub fn start(&mut self, index: u64, cpu: u32, clock: ClockId, mono: u64) {
        self.window = Window { index, cpu, clock: Some(clock), start_ns: mono, end_ns: mono, ..Window::default() };
        self.deltas.clear();
        self.max_delta = 0;
        self.first_tsc = None;
        self.last_tsc = None;
    }

    pub fn start_ns(&self) -> u64 {
        self.window.start_ns
    }

    /// Records the read `now` after the read `prev` of the same clock, less
    /// `credit` ns the sampler slept on purpose in between; `at_mono` is
    /// CLOCK_MONOTONIC of the read. Returns the interval, None for a step back.
    pub fn record(&mut self, prev: u64, now: u64, credit: u64, at_mono: u64) -> Option<u64> {
        if now < prev {
            self.window.backwards_steps += 1;
            self.window.worst_backwards_ns = self.window.worst_backwards_ns.max(prev - now);
            return None;
        }
        let delta = (now - prev).saturating_sub(credit);
        self.deltas.record(delta);
        if delta > self.max_delta {
            self.max_delta = delta;
            self.window.max_gap_at_ns = at_mono;
        }
        Some(delta)
    }

    /// A TSC read bracketed by clock reads (`clock`: the value just read).
    pub fn record_tsc(&mut self, tsc: u64, clock: u64) {
        self.window.tsc_reads += 1;
        if self.last_tsc.is_some_and(|(last, _)| tsc < last) {
            self.window.tsc_backwards_steps += 1;
        }
        self.first_tsc.get_or_insert((tsc, clock));
        self.last_tsc = Some((tsc, clock));
    }

    /// Closes the window at CLOCK_MONOTONIC `mono`.
    pub fn finish(&mut self, mono: u64) -> Window {
        let mut w = self.window;
        w.end_ns = mono;
        w.samples = self.deltas.count() + w.backwards_steps;
        let max = self.max_delta;
        w.delta = DeltaStats {
            p50_ns: self.deltas.quantile(0.5, max),
            p99_ns: self.deltas.quantile(0.99, max),
            p999_ns: self.deltas.quantile(0.999, max),
            max_ns: max,
        };
        w.max_gap_ns = max;
        if let (Some((t0, c0)), Some((t1, c1))) = (self.first_tsc, self.last_tsc) {
            w.tsc_ticks = t1.wrapping_sub(t0);
            w.clock_elapsed_ns = c1.saturating_sub(c0);
        }
        w
    }
}

/// Whether a clock got past its highest value between checks (the probe's
/// `StillClock`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StillClock {
    high: Option<u64>,
    changed_tsc: u64,
    pub unchanged_reads: u64,
    pub unchanged_tsc_ticks: u64,
    pub reads: u64,
}

impl StillClock {
    /// Another window (another clock): compare afresh; reads stay counted.
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
}

const NO_CLOCK: u8 = u8::MAX;

/// One sampler's progress as the beacons read it (relaxed atomics: a beacon
/// may see a check half-published, which shifts a count by one burst).
pub struct SamplerLive {
    cpu: u32,
    clock: AtomicU8,
    reads: AtomicU64,
    unchanged_reads: AtomicU64,
    unchanged_tsc_ticks: AtomicU64,
    value_ns: AtomicU64,
}

impl SamplerLive {
    pub fn new(cpu: u32) -> SamplerLive {
        SamplerLive {
            cpu,
            clock: AtomicU8::new(NO_CLOCK),
            reads: AtomicU64::new(0),
            unchanged_reads: AtomicU64::new(0),
            unchanged_tsc_ticks: AtomicU64::new(0),
            value_ns: AtomicU64::new(0),
        }
    }

    pub fn publish(&self, clock: ClockId, s: &StillClock) {
        let i = ClockId::ALL.iter().position(|&c| c == clock).map_or(NO_CLOCK, |i| i as u8);
        self.clock.store(i, Relaxed);
        self.reads.store(s.reads, Relaxed);
        self.unchanged_reads.store(s.unchanged_reads, Relaxed);
        self.unchanged_tsc_ticks.store(s.unchanged_tsc_ticks, Relaxed);
        self.value_ns.store(s.high.unwrap_or(0), Relaxed);
    }

    pub fn snapshot(&self) -> SamplerProgress {
        SamplerProgress {
            cpu: self.cpu,
            clock: ClockId::ALL.get(self.clock.load(Relaxed) as usize).copied(),
            reads: self.reads.load(Relaxed),
            unchanged_reads: self.unchanged_reads.load(Relaxed),
            unchanged_tsc_ticks: self.unchanged_tsc_ticks.load(Relaxed),
            value_ns: self.value_ns.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_sums_up_intervals_gaps_and_the_tsc() {
        let mut acc = WindowAcc::default();
        acc.start(3, 1, ClockId::Monotonic, 1_000);
        assert_eq!(acc.record(1_000, 1_050, 0, 1_050), Some(50));
        acc.record_tsc(2_100, 1_050);
        // Across a planned 1 ms sleep that took 1.2 ms: 0.2 ms counts.
        assert_eq!(acc.record(1_050, 1_201_050, 1_000_000, 1_201_050), Some(200_000));
        assert_eq!(acc.record(1_201_050, 1_201_000, 0, 1_201_000), None);
        acc.record_tsc(2_402_100, 1_201_000);
        let w = acc.finish(1_300_000);
        assert_eq!((w.index, w.cpu, w.clock, w.start_ns, w.end_ns), (3, 1, Some(ClockId::Monotonic), 1_000, 1_300_000));
        assert_eq!(w.samples, 3);
        assert_eq!((w.max_gap_ns, w.max_gap_at_ns, w.delta.max_ns, w.delta.p50_ns), (200_000, 1_201_050, 200_000, 50));
        assert_eq!((w.backwards_steps, w.worst_backwards_ns), (1, 50));
        assert_eq!((w.tsc_reads, w.tsc_ticks, w.clock_elapsed_ns), (2, 2_400_000, 1_199_950));
        acc.start(4, 1, ClockId::Realtime, 2_000_000);
        assert_eq!(acc.finish(2_000_001).samples, 0, "a new window starts empty");
    }

    #[test]
    fn progress_counts_reads_that_did_not_get_past_the_highest_value() {
        let mut s = StillClock::default();
        s.check(100, 10, 500);
        s.check(200, 20, 500);
        assert_eq!((s.reads, s.unchanged_reads), (1_000, 0));
        s.check(200, 30, 500);
        s.check(150, 45, 500);
        assert_eq!((s.unchanged_reads, s.unchanged_tsc_ticks), (1_000, 25));
        let live = SamplerLive::new(2);
        live.publish(ClockId::Realtime, &s);
        let p = live.snapshot();
        assert_eq!((p.cpu, p.clock, p.reads, p.unchanged_reads, p.value_ns), (2, Some(ClockId::Realtime), 2_000, 1_000, 200));
        s.reset();
        assert_eq!((s.reads, s.unchanged_reads), (2_000, 0));
    }
}
