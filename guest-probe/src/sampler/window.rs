//! Per-window bookkeeping of one sampler; pure, so the loop's logic is tested
//! without threads or clocks.

use clockstorm_protocol::{ClockId, DeltaStats, Window};

use crate::histogram::Histogram;

pub struct WindowAccumulator {
    window: Window,
    deltas: Histogram,
    first_tsc: Option<(u64, u64)>,
    last_tsc: Option<(u64, u64)>,
}

impl WindowAccumulator {
    pub fn new() -> Self {
        WindowAccumulator { window: Window::default(), deltas: Histogram::default(), first_tsc: None, last_tsc: None }
    }

    /// Starts window `index` at CLOCK_MONOTONIC `mono`, reusing the buffers.
    pub fn start(&mut self, index: u64, cpu: u32, clock: ClockId, mono: u64) {
        self.window = Window { index, cpu, clock: Some(clock), start_ns: mono, end_ns: mono, ..Window::default() };
        self.deltas.clear();
        self.first_tsc = None;
        self.last_tsc = None;
    }

    /// Records the read `now` that followed the read `prev` of the same clock.
    /// Returns the forward interval in ns (0 for a backwards step).
    #[inline(always)]
    pub fn record(&mut self, prev: u64, now: u64) -> u64 {
        let w = &mut self.window;
        w.samples += 1;
        if now < prev {
            w.backwards_steps += 1;
            w.worst_backwards_ns = w.worst_backwards_ns.max(prev - now);
            return 0;
        }
        let delta = now - prev;
        if delta > self.deltas.max() {
            w.max_gap_at_ns = now;
        }
        self.deltas.record(delta);
        delta
    }

    /// Records a TSC read bracketed by clock reads; `clock` is the clock read
    /// just before it.
    #[inline(always)]
    pub fn record_tsc(&mut self, tsc: u64, clock: u64) {
        let w = &mut self.window;
        w.tsc_reads += 1;
        if let Some((last, _)) = self.last_tsc {
            if tsc < last {
                w.tsc_backwards_steps += 1;
            }
        }
        if self.first_tsc.is_none() {
            self.first_tsc = Some((tsc, clock));
        }
        self.last_tsc = Some((tsc, clock));
    }

    /// Records a cross-vCPU check that found this vCPU `behind_ns` behind.
    pub fn record_warp(&mut self, behind_ns: u64) {
        self.window.warps += 1;
        self.window.worst_warp_ns = self.window.worst_warp_ns.max(behind_ns);
    }

    /// CLOCK_MONOTONIC where the window started.
    pub fn start_ns(&self) -> u64 {
        self.window.start_ns
    }

    /// Closes the window at CLOCK_MONOTONIC `mono`. `gap_at_mono` converts a
    /// gap position read on another clock into CLOCK_MONOTONIC (the caller
    /// knows both clocks' values at the window's end).
    pub fn finish(&mut self, mono: u64, dropped_so_far: u64, gap_at_mono: impl Fn(u64) -> u64) -> Window {
        let mut w = self.window;
        w.end_ns = mono;
        w.delta = DeltaStats {
            p50_ns: self.deltas.quantile(0.5),
            p99_ns: self.deltas.quantile(0.99),
            p999_ns: self.deltas.quantile(0.999),
            max_ns: self.deltas.max(),
        };
        w.max_gap_ns = self.deltas.max();
        w.max_gap_at_ns = gap_at_mono(w.max_gap_at_ns);
        if let (Some((t0, c0)), Some((t1, c1))) = (self.first_tsc, self.last_tsc) {
            w.tsc_ticks = t1.wrapping_sub(t0);
            w.clock_elapsed_ns = c1.saturating_sub(c0);
        }
        w.dropped_so_far = dropped_so_far;
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_tracks_gaps_backwards_steps_tsc_and_warps() {
        let mut acc = WindowAccumulator::new();
        acc.start(7, 1, ClockId::Monotonic, 1_000);
        assert_eq!(acc.record(1_000, 1_100), 100);
        acc.record_tsc(50, 1_100);
        assert_eq!(acc.record(1_100, 5_100), 4_000);
        assert_eq!(acc.record(5_100, 5_000), 0); // the clock steps back 100 ns
        acc.record_tsc(45, 5_000); // and so does the TSC
        assert_eq!(acc.record(5_000, 5_050), 50);
        acc.record_tsc(80, 5_050);
        acc.record_warp(30);
        acc.record_warp(10);
        let w = acc.finish(6_000, 3, |at| at);
        assert_eq!((w.index, w.cpu, w.clock), (7, 1, Some(ClockId::Monotonic)));
        assert_eq!(w.samples, 4);
        assert_eq!((w.max_gap_ns, w.max_gap_at_ns), (4_000, 5_100));
        assert_eq!(w.delta.max_ns, 4_000);
        assert_eq!((w.backwards_steps, w.worst_backwards_ns), (1, 100));
        assert_eq!((w.tsc_reads, w.tsc_backwards_steps), (3, 1));
        assert_eq!((w.tsc_ticks, w.clock_elapsed_ns), (30, 3_950));
        assert_eq!((w.warps, w.worst_warp_ns), (2, 30));
        assert_eq!((w.start_ns, w.end_ns, w.dropped_so_far), (1_000, 6_000, 3));
    }

    #[test]
    fn starting_again_clears_the_previous_window() {
        let mut acc = WindowAccumulator::new();
        acc.start(0, 0, ClockId::Realtime, 0);
        acc.record(0, 1_000_000);
        acc.start(1, 0, ClockId::MonotonicRaw, 10);
        let w = acc.finish(20, 0, |at| at);
        assert_eq!((w.samples, w.max_gap_ns, w.delta.p50_ns), (0, 0, 0));
        assert_eq!(w.clock, Some(ClockId::MonotonicRaw));
    }
}
