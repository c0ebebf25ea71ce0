//! The periodic timer, as the probe's timerfd thread sees it: expirations
//! are due by the guest's CLOCK_MONOTONIC (a clock that jumps shows missed
//! ticks, one that lost time shows none, one that stands still fires none),
//! wake-ups are the thread's real ones, and latency is how late a wake-up
//! came after the expiry it answers. The thread sleeps on host time, at
//! most the timer's period and never less than a millisecond per wake-up
//! beyond the first expiry due (faster rates count several per wake-up).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{GuestMessage, LatencyStats, TickWindow, TimerStall};

use super::guest::{Guest, Phase};
use clockstorm_protocol::histogram::Histogram;

/// The probe reports a stall only beyond this (or the gap threshold, if longer).
pub const TIMER_STALL_MIN_NS: u64 = 50_000_000;
/// The shortest sleep: more wake-ups than 1 kHz would cost the host too much.
const MIN_PERIOD: Duration = Duration::from_millis(1);
/// Never sleep less than this, so a clock standing still does not make the thread spin.
const MIN_SLEEP: Duration = Duration::from_micros(50);

/// The timer's bookkeeping; pure.
pub struct TickCounter {
    rate_hz: u32,
    start_ns: u64,
    expirations: u64,
    wakeups: u64,
    latency: Histogram,
    latency_max: u64,
}

impl TickCounter {
    /// A timer at `rate_hz` armed at guest CLOCK_MONOTONIC `start_ns`.
    pub fn new(rate_hz: u32, start_ns: u64) -> TickCounter {
        TickCounter { rate_hz, start_ns, expirations: 0, wakeups: 0, latency: Histogram::default(), latency_max: 0 }
    }

    fn expiry_ns(&self, n: u64) -> u64 {
        self.start_ns + (n as u128 * 1_000_000_000 / self.rate_hz as u128) as u64
    }

    /// The next expiry not yet counted.
    pub fn next_expiry_ns(&self) -> u64 {
        self.expiry_ns(self.expirations + 1)
    }

    /// The thread looks at `now`: false when nothing expired yet (a timerfd
    /// read would still block), else counts the expirations and the wake-up.
    pub fn wake(&mut self, now: u64) -> bool {
        let due = (now.saturating_sub(self.start_ns) as u128 * self.rate_hz as u128 / 1_000_000_000) as u64;
        if due <= self.expirations {
            return false;
        }
        self.expirations = due;
        self.wakeups += 1;
        let late = now - self.expiry_ns(due);
        self.latency.record(late);
        self.latency_max = self.latency_max.max(late);
        true
    }

    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// The window's message; the latency histogram starts over, counts do not.
    pub fn window(&mut self, index: u64, mono_ns: u64, realtime_ns: i64) -> TickWindow {
        let w = TickWindow {
            index,
            rate_hz: self.rate_hz,
            mono_ns,
            realtime_ns,
            expirations: self.expirations,
            wakeups: self.wakeups,
            latency: LatencyStats {
                samples: self.latency.count(),
                p50_ns: self.latency.quantile(0.5, self.latency_max),
                p99_ns: self.latency.quantile(0.99, self.latency_max),
                max_ns: self.latency_max,
            },
        };
        self.latency.clear();
        self.latency_max = 0;
        w
    }
}

/// Starts the timer thread; it ends when measuring does.
pub fn spawn(guest: Arc<Guest>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("fake-timer".into()).spawn(move || run(&guest))
}

fn run(guest: &Guest) {
    let c = &guest.config;
    let (window_ns, stall_ns) = (c.window_ms * 1_000_000, c.gap_event_threshold_ns.max(TIMER_STALL_MIN_NS));
    let period = Duration::from_nanos(1_000_000_000 / c.tick_rate_hz.max(1) as u64).max(MIN_PERIOD);
    let start = guest.clock.read();
    let mut counter = TickCounter::new(c.tick_rate_hz, start.mono_ns);
    let (mut index, mut window_end, mut last_wake, mut now) = (0, start.mono_ns + window_ns, start.mono_ns, start.mono_ns);
    while guest.phase() == Phase::Measuring {
        let until_expiry = Duration::from_nanos(counter.next_expiry_ns().saturating_sub(now));
        std::thread::sleep(until_expiry.clamp(MIN_SLEEP, period));
        if !guest.on_vcpu0() {
            return;
        }
        let r = guest.clock.read();
        now = r.mono_ns;
        if !counter.wake(now) {
            continue;
        }
        guest.timer_wakeups.store(counter.wakeups(), Relaxed);
        guest.timer_last_wake_ns.store(now, Relaxed);
        let gap_ns = now.saturating_sub(last_wake);
        if gap_ns > stall_ns {
            guest.send(&GuestMessage::TimerStall(TimerStall { at_ns: now, gap_ns }));
        }
        last_wake = now;
        if now >= window_end {
            guest.send(&GuestMessage::TickWindow(counter.window(index, now, r.realtime_ns)));
            index += 1;
            window_end = now + window_ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn expirations_follow_the_guest_clock_and_latency_the_latest_expiry() {
        let mut c = TickCounter::new(1000, 10 * MS);
        assert!(!c.wake(10 * MS + MS / 2), "nothing expired yet");
        assert!(c.wake(11 * MS + 20_000)); // 20 µs late
        assert!(!c.wake(11 * MS + 30_000), "the same expiry is not counted twice");
        assert_eq!(c.next_expiry_ns(), 12 * MS);
        // The guest's clock jumped 2 s: the missed expiries count, in one wake-up.
        assert!(c.wake(2_011 * MS + 5_000));
        let w = c.window(0, 2_011 * MS + 5_000, 7);
        assert_eq!((w.expirations, w.wakeups, w.rate_hz, w.realtime_ns), (2_001, 2, 1000, 7));
        assert_eq!((w.latency.samples, w.latency.max_ns), (2, 20_000));
        let w = c.window(1, 2_012 * MS, 8);
        assert_eq!((w.expirations, w.latency.samples), (2_001, 0), "counts stay, latency starts over");
    }

    #[test]
    fn faster_rates_than_the_sleep_count_several_per_wake_up() {
        let mut c = TickCounter::new(4000, 0);
        assert!(c.wake(MS));
        assert_eq!(c.window(0, MS, 0).expirations, 4);
    }
}
