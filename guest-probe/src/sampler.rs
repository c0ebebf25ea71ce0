//! The tight clock-read loop: CLOCK_MONOTONIC and the TSC, read back to back
//! as fast as the vCPU allows, summarized per window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use clockstorm_protocol::{Gap, GuestMessage, Window};

use crate::clocks::{monotonic_ns, rdtsc};

/// Shared between the sampler thread and the rest of the probe.
pub struct SamplerControl {
    pub stop: AtomicBool,
    pub samples: AtomicU64,
    pub windows: AtomicU64,
    pub dropped: AtomicU64,
}

impl SamplerControl {
    pub fn new() -> Arc<Self> {
        Arc::new(SamplerControl {
            stop: AtomicBool::new(false),
            samples: AtomicU64::new(0),
            windows: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }
}

/// Per-window accumulator; pure, so the loop's bookkeeping is testable.
#[derive(Debug, Default)]
pub struct WindowAccumulator {
    window: Window,
    tsc_start: u64,
    last_tsc: u64,
}

impl WindowAccumulator {
    pub fn start(index: u64, mono: u64, tsc: u64) -> Self {
        WindowAccumulator {
            window: Window { index, start_ns: mono, end_ns: mono, ..Window::default() },
            tsc_start: tsc,
            last_tsc: tsc,
        }
    }

    /// Records one read pair following the previous read at `prev_mono`.
    /// Returns the forward gap in ns (0 for a backwards step).
    #[inline(always)]
    pub fn record(&mut self, prev_mono: u64, mono: u64, tsc: u64) -> u64 {
        let w = &mut self.window;
        w.samples += 1;
        w.end_ns = mono;
        if tsc < self.last_tsc {
            w.tsc_backwards_steps += 1;
        }
        self.last_tsc = tsc;
        if mono < prev_mono {
            w.backwards_steps += 1;
            w.worst_backwards_ns = w.worst_backwards_ns.max(prev_mono - mono);
            return 0;
        }
        let gap = mono - prev_mono;
        if gap > w.max_gap_ns {
            w.max_gap_ns = gap;
            w.max_gap_at_ns = mono;
        }
        gap
    }

    pub fn finish(mut self, dropped_windows: u64) -> Window {
        self.window.tsc_ticks = self.last_tsc.wrapping_sub(self.tsc_start);
        self.window.dropped_windows = dropped_windows;
        self.window
    }
}

/// Samples until `ctl.stop` is set; windows and gap events go to `out`
/// without ever blocking (a full queue drops and counts).
pub fn run(ctl: Arc<SamplerControl>, out: SyncSender<GuestMessage>, window_ns: u64, gap_event_ns: u64) {
    // Threads inherit the creator's policy; the channel thread is SCHED_FIFO,
    // and a spinning FIFO thread would starve everything else on its vCPU.
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: valid sched_param; 0 means the calling thread.
    unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
    let send = |msg: GuestMessage| {
        if out.try_send(msg).is_err() {
            ctl.dropped.fetch_add(1, Ordering::Relaxed);
        }
    };
    let mut prev = monotonic_ns();
    let mut index = 0;
    let mut acc = WindowAccumulator::start(index, prev, rdtsc());
    loop {
        let mono = monotonic_ns();
        let tsc = rdtsc();
        let gap = acc.record(prev, mono, tsc);
        prev = mono;
        if gap > gap_event_ns {
            send(GuestMessage::Gap(Gap { at_ns: mono, gap_ns: gap }));
        }
        if mono.saturating_sub(acc.window.start_ns) >= window_ns {
            let finished = std::mem::replace(&mut acc, WindowAccumulator::start(index + 1, mono, tsc));
            let window = finished.finish(ctl.dropped.load(Ordering::Relaxed));
            ctl.samples.fetch_add(window.samples, Ordering::Relaxed);
            ctl.windows.fetch_add(1, Ordering::Relaxed);
            send(GuestMessage::Window(window));
            index += 1;
            // Checked once per window to keep the loop body to two reads.
            if ctl.stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_tracks_gaps_and_backwards_steps() {
        let mut acc = WindowAccumulator::start(7, 1_000, 50);
        assert_eq!(acc.record(1_000, 1_100, 60), 100);
        assert_eq!(acc.record(1_100, 5_100, 70), 4_000);
        assert_eq!(acc.record(5_100, 5_000, 65), 0); // clock and TSC both step back
        assert_eq!(acc.record(5_000, 5_050, 80), 50);
        let w = acc.finish(3);
        assert_eq!(w.index, 7);
        assert_eq!(w.samples, 4);
        assert_eq!((w.max_gap_ns, w.max_gap_at_ns), (4_000, 5_100));
        assert_eq!((w.backwards_steps, w.worst_backwards_ns), (1, 100));
        assert_eq!(w.tsc_backwards_steps, 1);
        assert_eq!(w.tsc_ticks, 30);
        assert_eq!((w.start_ns, w.end_ns), (1_000, 5_050));
        assert_eq!(w.dropped_windows, 3);
    }
}
