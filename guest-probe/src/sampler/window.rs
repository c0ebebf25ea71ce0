//! Per-window bookkeeping of one sampler; pure, so the loop's logic is tested
//! without threads or clocks.

use clockstorm_protocol::{ClockId, DeltaStats, Window};

use clockstorm_protocol::histogram::Histogram;

/// Reads a window needs before its median interval picks the next
/// window's fast path (a window cut short by a freeze keeps the last pick).
const PATH_MIN_SAMPLES: u64 = 256;

pub struct WindowAccumulator {
    window: Window,
    deltas: Histogram,
    max_delta: u64,
    gap_event_ns: u64,
    /// Intervals up to this take the fast path (one compare, one increment):
    /// min(max_delta, gap_event_ns), and on the short-read path also the
    /// largest exact histogram value. A backwards step wraps to a huge
    /// unsigned interval and so also lands on the slow path.
    fast_limit: u64,
    /// Which fast path the next window takes (see [`Self::long_reads`]);
    /// decided by the windows before it, kept across [`Self::reset`].
    long_reads: bool,
    last_slow: u64,
    first_tsc: Option<(u64, u64)>,
    last_tsc: Option<(u64, u64)>,
    /// CLOCK_MONOTONIC where the previous window closed.
    last_end_mono: Option<u64>,
    /// The hole between the previous window's close and this one's start
    /// (its length, and CLOCK_MONOTONIC where it ended).
    hole: Option<(u64, u64)>,
}

impl WindowAccumulator {
    /// `gap_event_ns`: intervals longer than this make [`Self::record`] say so.
    pub fn new(gap_event_ns: u64) -> Self {
        WindowAccumulator {
            window: Window::default(),
            deltas: Histogram::default(),
            max_delta: 0,
            gap_event_ns,
            fast_limit: 0,
            long_reads: false,
            last_slow: 0,
            first_tsc: None,
            last_tsc: None,
            last_end_mono: None,
            hole: None,
        }
    }

    /// As new, in place (the same memory: see `sampler::placed_accumulator`).
    pub fn reset(&mut self, gap_event_ns: u64) {
        self.gap_event_ns = gap_event_ns;
        self.last_end_mono = None;
        self.hole = None;
    }

    /// Starts window `index` at CLOCK_MONOTONIC `mono`, reusing the buffers.
    ///
    /// The time since the previous window closed (sending it, and on one
    /// vCPU the channel thread that the send wakes and that preempts the
    /// sampler) is a stretch with no reads too: a freeze that lands there
    /// would otherwise vanish from every window (seen once in CI: a 1.5 s
    /// SIGSTOP freeze with a largest gap of 3.5 ms). It counts toward this
    /// window's largest gap, measured on CLOCK_MONOTONIC whatever clock the
    /// window reads. Returns the hole's length when it is a gap event.
    pub fn start(&mut self, index: u64, cpu: u32, clock: ClockId, mono: u64) -> Option<u64> {
        self.window = Window { index, cpu, clock: Some(clock), start_ns: mono, end_ns: mono, ..Window::default() };
        self.deltas.clear();
        self.max_delta = 0;
        self.fast_limit = 0;
        self.first_tsc = None;
        self.last_tsc = None;
        self.hole = self.last_end_mono.take().map(|end| (mono.saturating_sub(end), mono));
        self.hole.map(|(len, _)| len).filter(|&len| len > self.gap_event_ns)
    }

    /// Records the read `now` that followed the read `prev` of the same
    /// clock. Returns true when the interval is a gap event (longer than the
    /// threshold). The common case is one subtraction, one compare and one
    /// counter increment: under TCG every instruction here costs read rate.
    /// `LONG`: the window's path ([`Self::long_reads`]); either records the
    /// same histogram.
    #[inline(always)]
    pub fn record<const LONG: bool>(&mut self, prev: u64, now: u64) -> bool {
        let mut limit = self.fast_limit;
        self.record_with::<LONG>(&mut limit, prev, now)
    }

    /// [`Self::record`] with the fast-path limit held by the caller (in a
    /// register across the clock reads), refreshed when the slow path runs.
    #[inline(always)]
    pub fn record_with<const LONG: bool>(&mut self, limit: &mut u64, prev: u64, now: u64) -> bool {
        let delta = now.wrapping_sub(prev);
        if delta <= *limit {
            if LONG {
                self.deltas.record(delta);
            } else {
                self.deltas.record_exact(delta);
            }
            return false;
        }
        let event = self.slow_path(prev, now);
        *limit = self.fast_limit;
        event
    }

    /// Whether this window takes the long-read fast path: its clock's reads
    /// were mostly longer than the histogram's exact region in the last
    /// window that had enough of them. The short-read path (an index with no
    /// bucket arithmetic) then sent every read to the slow path's call, a
    /// jump to another page and back: under TCG the long path measured
    /// 4.5-9 % more reads than that on hpet and acpi_pm, alternating slices
    /// in each of three boots (`clockstorm bench`), while on tsc's ~100 ns
    /// reads the bucket's extra branch would cost its own.
    pub fn long_reads(&self) -> bool {
        self.long_reads
    }

    /// The current fast-path limit, for [`Self::record_with`].
    pub fn fast_limit(&self) -> u64 {
        self.fast_limit
    }

    /// The interval [`Self::record`] last took the slow path for.
    pub fn last_gap(&self) -> u64 {
        self.last_slow
    }

    /// A backwards step, an interval beyond the exact histogram region, a
    /// new largest interval, or a gap event.
    #[cold]
    #[inline(never)]
    fn slow_path(&mut self, prev: u64, now: u64) -> bool {
        if now < prev {
            self.window.backwards_steps += 1;
            self.window.worst_backwards_ns = self.window.worst_backwards_ns.max(prev - now);
            return false;
        }
        let delta = now - prev;
        self.deltas.record(delta);
        self.last_slow = delta;
        if delta > self.max_delta {
            self.max_delta = delta;
            self.window.max_gap_at_ns = now;
        }
        let limit = self.max_delta.min(self.gap_event_ns);
        self.fast_limit = if self.long_reads { limit } else { limit.min(Histogram::EXACT_BELOW - 1) };
        delta > self.gap_event_ns
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
        w.samples = self.deltas.count() + w.backwards_steps;
        let max = self.max_delta;
        w.delta = DeltaStats {
            p50_ns: self.deltas.quantile(0.5, max),
            p99_ns: self.deltas.quantile(0.99, max),
            p999_ns: self.deltas.quantile(0.999, max),
            max_ns: max,
        };
        if w.samples >= PATH_MIN_SAMPLES {
            self.long_reads = w.delta.p50_ns >= Histogram::EXACT_BELOW;
        }
        w.max_gap_ns = max;
        w.max_gap_at_ns = gap_at_mono(w.max_gap_at_ns);
        if let Some((len, at)) = self.hole.take().filter(|&(len, _)| len > max) {
            // The reads' histogram keeps read-to-read intervals only.
            w.max_gap_ns = len;
            w.max_gap_at_ns = at;
        }
        self.last_end_mono = Some(mono);
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
        let mut acc = WindowAccumulator::new(1_000);
        acc.start(7, 1, ClockId::Monotonic, 1_000);
        assert!(!acc.record::<false>(1_000, 1_100));
        acc.record_tsc(50, 1_100);
        assert!(acc.record::<false>(1_100, 5_100), "4 µs is over the 1 µs gap threshold");
        assert!(!acc.record::<false>(5_100, 5_000)); // the clock steps back 100 ns
        acc.record_tsc(45, 5_000); // and so does the TSC
        assert!(!acc.record::<false>(5_000, 5_050));
        assert!(acc.record::<false>(5_050, 7_050), "a later gap over the threshold but below the max is still an event");
        acc.record_tsc(80, 5_050);
        acc.record_warp(30);
        acc.record_warp(10);
        let w = acc.finish(6_000, 3, |at| at);
        assert_eq!((w.index, w.cpu, w.clock), (7, 1, Some(ClockId::Monotonic)));
        assert_eq!(w.samples, 5);
        assert_eq!((w.max_gap_ns, w.max_gap_at_ns), (4_000, 5_100));
        assert_eq!(w.delta.max_ns, 4_000);
        assert_eq!((w.backwards_steps, w.worst_backwards_ns), (1, 100));
        assert_eq!((w.tsc_reads, w.tsc_backwards_steps), (3, 1));
        assert_eq!((w.tsc_ticks, w.clock_elapsed_ns), (30, 3_950));
        assert_eq!((w.warps, w.worst_warp_ns), (2, 30));
        assert_eq!((w.start_ns, w.end_ns, w.dropped_so_far), (1_000, 6_000, 3));
    }

    #[test]
    fn a_reset_accumulator_has_no_hole_before_its_next_window_and_the_new_threshold() {
        let mut acc = WindowAccumulator::new(u64::MAX);
        acc.start(0, 0, ClockId::Monotonic, 0);
        acc.record::<false>(0, 100);
        acc.finish(1_000, 0, |at| at);
        acc.reset(1_000);
        // 50 ms after the trial's last window: not a hole of the run's first.
        assert_eq!(acc.start(0, 0, ClockId::Monotonic, 50_000_000), None);
        assert!(acc.record::<false>(50_000_000, 50_005_000), "the run's gap threshold applies");
        assert_eq!(acc.finish(50_010_000, 0, |at| at).max_gap_ns, 5_000);
    }

    #[test]
    fn starting_again_clears_the_previous_window() {
        let mut acc = WindowAccumulator::new(u64::MAX);
        acc.start(0, 0, ClockId::Realtime, 0);
        acc.record::<false>(0, 1_000_000);
        acc.start(1, 0, ClockId::MonotonicRaw, 10);
        let w = acc.finish(20, 0, |at| at);
        assert_eq!((w.samples, w.max_gap_ns, w.delta.p50_ns), (0, 0, 0));
        assert_eq!(w.clock, Some(ClockId::MonotonicRaw));
    }

    #[test]
    fn the_hole_between_two_windows_is_a_gap_of_the_second() {
        let mut acc = WindowAccumulator::new(1_000_000);
        assert_eq!(acc.start(0, 0, ClockId::Monotonic, 0), None, "the first window has nothing before it");
        acc.record::<false>(0, 500);
        let first = acc.finish(1_000, 0, |at| at);
        assert_eq!(first.max_gap_ns, 500);
        // Frozen for 1.5 s right after the first window closed.
        assert_eq!(acc.start(1, 0, ClockId::MonotonicRaw, 1_500_001_000), Some(1_500_000_000));
        acc.record::<false>(7_000, 7_300);
        let second = acc.finish(1_600_000_000, 0, |at| at + 10);
        assert_eq!((second.max_gap_ns, second.max_gap_at_ns), (1_500_000_000, 1_500_001_000), "on CLOCK_MONOTONIC, not shifted");
        assert_eq!(second.delta.max_ns, 300, "the histogram keeps read-to-read intervals");
        // A short hole loses to a longer gap inside the window.
        acc.start(2, 0, ClockId::Monotonic, 1_600_000_100);
        acc.record::<false>(1_600_000_200, 1_600_002_200);
        let third = acc.finish(1_700_000_000, 0, |at| at);
        assert_eq!((third.max_gap_ns, third.max_gap_at_ns), (2_000, 1_600_002_200));
    }

    /// The same reads through both fast paths: the window must not depend on the path.
    fn window_of<const LONG: bool>(intervals: &[u64]) -> Window {
        let mut acc = WindowAccumulator::new(1_000_000);
        acc.start(0, 0, ClockId::Monotonic, 0);
        let mut t = 10_000;
        for &d in intervals {
            acc.record::<LONG>(t, t.wrapping_add(d));
            t = t.wrapping_add(d);
        }
        acc.finish(t, 0, |at| at)
    }

    #[test]
    fn both_fast_paths_record_the_same_window() {
        // Short and long reads, a new largest interval on each side of the
        // exact region, a gap event and a step back.
        let intervals = [90, 1_300, 95, 1_250, 4_000, 1_999, 2_000_000, 100, u64::MAX - 49, 1_400];
        let (short, long) = (window_of::<false>(&intervals), window_of::<true>(&intervals));
        assert_eq!(format!("{short:?}"), format!("{long:?}"));
        assert_eq!((short.samples, short.backwards_steps, short.max_gap_ns), (10, 1, 2_000_000));
    }

    #[test]
    fn the_next_windows_path_follows_the_median_interval_of_a_full_window() {
        let mut acc = WindowAccumulator::new(u64::MAX);
        let window = |acc: &mut WindowAccumulator, n: u64, d: u64| {
            acc.start(0, 0, ClockId::Monotonic, 0);
            (0..n).for_each(|i| {
                acc.record::<false>(i * d, (i + 1) * d);
            });
            acc.finish(n * d, 0, |at| at);
            acc.long_reads()
        };
        assert!(!acc.long_reads(), "a new sampler starts on the short path");
        assert!(window(&mut acc, PATH_MIN_SAMPLES, 1_200), "hpet-like 1.2 µs reads take the long path");
        assert!(window(&mut acc, PATH_MIN_SAMPLES - 1, 100), "too few reads to change the pick");
        assert!(!window(&mut acc, PATH_MIN_SAMPLES, 100), "tsc-like reads go back to the short path");
        acc.reset(1_000);
        assert!(!acc.long_reads() && window(&mut acc, 1_000, 1_100), "a reset keeps the pick, the reads change it");
    }
}
