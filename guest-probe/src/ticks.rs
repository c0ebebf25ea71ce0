//! The periodic timer: a timerfd on CLOCK_MONOTONIC at a fixed rate, read by
//! a SCHED_FIFO thread (as cyclictest does), counting expirations (the
//! kernel's count, overruns included) and wake-ups, and measuring how late
//! each wake-up is against the expiry it answers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{GuestMessage, LatencyStats, TickWindow, TimerStall};

use crate::clocks::{monotonic_ns, realtime_ns};
use crate::outbox::{Outbox, Producer};
use crate::sampler::SamplerShared;
use clockstorm_protocol::histogram::Histogram;

/// Priority of the timer thread: above the channel thread, so a wake-up
/// measures the kernel's timer path and not the probe's own traffic.
pub const TIMER_RT_PRIORITY: i32 = 20;

/// Bookkeeping of the timer thread; pure.
pub struct TickCounter {
    period_ns: u64,
    first_expiry_ns: u64,
    expirations: u64,
    wakeups: u64,
    latency: Histogram,
    latency_max: u64,
}

impl TickCounter {
    pub fn new(period_ns: u64, first_expiry_ns: u64) -> Self {
        TickCounter { period_ns, first_expiry_ns, expirations: 0, wakeups: 0, latency: Histogram::default(), latency_max: 0 }
    }

    /// One wake-up at `now` that read `count` expirations.
    pub fn wake(&mut self, count: u64, now: u64) {
        self.expirations += count;
        self.wakeups += 1;
        let latest_expiry = self.first_expiry_ns + (self.expirations - 1) * self.period_ns;
        let late = now.saturating_sub(latest_expiry);
        self.latency.record(late);
        self.latency_max = self.latency_max.max(late);
    }

    /// The window's message; resets the latency histogram (counts stay cumulative).
    pub fn window(&mut self, index: u64, rate_hz: u32, mono_ns: u64, realtime_ns: i64) -> TickWindow {
        let w = TickWindow {
            index,
            rate_hz,
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

/// Starts the timer thread. A wake-up more than `stall_ns` after the one
/// before is sent as a [`TimerStall`] at once: under SCHED_FIFO only a
/// freeze or the kernel's RT throttling keeps it off its CPU that long.
pub fn spawn(rate_hz: u32, window_ns: u64, stall_ns: u64, shared: Arc<SamplerShared>, outbox: Outbox) -> Result<JoinHandle<()>> {
    let tfd = TimerFd::periodic(rate_hz)?;
    std::thread::Builder::new()
        .name("ticks".into())
        .spawn(move || {
            if let Err(e) = crate::sched::set_fifo(TIMER_RT_PRIORITY) {
                // Latency is then measured under normal scheduling; say so.
                let reason = format!("{e:#}: wake-up latency measured under normal scheduling");
                outbox.send(Producer::Ticks, GuestMessage::Degraded { component: "ticks".into(), reason });
            }
            let mut counter = TickCounter::new(tfd.period_ns, tfd.first_expiry_ns);
            let mut index = 0;
            let mut window_end = monotonic_ns() + window_ns;
            let mut last_wake = monotonic_ns();
            while !shared.stop.load(Ordering::Relaxed) {
                let count = match tfd.read() {
                    Ok(count) => count,
                    Err(e) => {
                        // Said, not silent: without it a timer that ended
                        // reads like one the kernel stopped firing.
                        let reason = format!("{e:#}: the timer thread ended after {} wake-ups", counter.wakeups);
                        outbox.send_now(Producer::Ticks, GuestMessage::Degraded { component: "ticks".into(), reason });
                        break;
                    }
                };
                let now = monotonic_ns();
                counter.wake(count, now);
                shared.timer_wakeups.fetch_add(1, Ordering::Relaxed);
                shared.timer_last_wake_ns.store(now, Ordering::Relaxed);
                let gap_ns = now.saturating_sub(last_wake);
                if gap_ns > stall_ns {
                    outbox.send(Producer::Ticks, GuestMessage::TimerStall(TimerStall { at_ns: now, gap_ns }));
                }
                last_wake = now;
                if now >= window_end {
                    let w = counter.window(index, rate_hz, now, realtime_ns());
                    outbox.send(Producer::Ticks, GuestMessage::TickWindow(w));
                    index += 1;
                    window_end = now + window_ns;
                }
            }
        })
        .context("starting the timer thread")
}

/// The benchmark's floor for the timer thread: the same timer at the same
/// rate and priority, with nothing done on a wake-up but the read that
/// waits for it. What the timer part costs a task beyond what this costs
/// is the probe's own bookkeeping; what this costs is the guest's
/// (emulated) timer interrupt and the two context switches of any
/// periodic wake-up at that rate.
pub fn spawn_bare(rate_hz: u32, shared: Arc<SamplerShared>) -> Result<JoinHandle<()>> {
    let tfd = TimerFd::periodic(rate_hz)?;
    std::thread::Builder::new()
        .name("bare-timer".into())
        .spawn(move || {
            let _ = crate::sched::set_fifo(TIMER_RT_PRIORITY);
            while !shared.stop.load(Ordering::Relaxed) {
                if tfd.read().is_err() {
                    break;
                }
            }
        })
        .context("starting the bare timer thread")
}

/// A periodic timerfd on CLOCK_MONOTONIC with absolute expiries.
struct TimerFd {
    fd: std::os::fd::OwnedFd,
    period_ns: u64,
    first_expiry_ns: u64,
}

impl TimerFd {
    fn periodic(rate_hz: u32) -> Result<TimerFd> {
        use std::os::fd::FromRawFd;
        let period_ns = 1_000_000_000 / rate_hz as u64;
        // SAFETY: plain syscall; the returned fd is checked and then owned.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error()).context("timerfd_create");
        }
        // SAFETY: `raw` is a fresh fd owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let first_expiry_ns = monotonic_ns() + period_ns;
        let ts = |ns: u64| libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 };
        let spec = libc::itimerspec { it_interval: ts(period_ns), it_value: ts(first_expiry_ns) };
        // SAFETY: `fd` is a valid timerfd and `spec` a valid itimerspec.
        let rc = unsafe { libc::timerfd_settime(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("timerfd_settime");
        }
        Ok(TimerFd { fd, period_ns, first_expiry_ns })
    }

    /// Blocks until the next expiry; returns the expirations since the last read.
    fn read(&self) -> Result<u64> {
        let mut count = 0u64;
        // SAFETY: reading 8 bytes into a u64 from a valid timerfd.
        let n = unsafe { libc::read(std::os::fd::AsRawFd::as_raw_fd(&self.fd), (&mut count as *mut u64).cast(), std::mem::size_of::<u64>()) };
        if n != 8 {
            bail!("reading the timerfd: {}", std::io::Error::last_os_error());
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overruns_count_as_expirations_and_latency_is_against_the_latest_expiry() {
        // 1 kHz timer, first expiry at 1 ms.
        let mut c = TickCounter::new(1_000_000, 1_000_000);
        c.wake(1, 1_020_000); // 20 µs late
        c.wake(1, 2_010_000); // 10 µs late
                              // The probe did not run for 2 s: the kernel counts the missed expiries.
        c.wake(2000, 2_002_005_000); // latest expiry at 2_002_000_000: 5 µs late
        let w = c.window(0, 1000, 2_002_005_000, 7);
        assert_eq!((w.expirations, w.wakeups), (2002, 3));
        assert_eq!(w.latency.samples, 3);
        assert_eq!(w.latency.max_ns, 20_000);
        assert!((9_000..=11_250).contains(&w.latency.p50_ns), "{}", w.latency.p50_ns);
        // Counts are cumulative; the histogram starts over.
        c.wake(1, 2_003_001_000);
        let w2 = c.window(1, 1000, 2_003_001_000, 8);
        assert_eq!((w2.expirations, w2.wakeups, w2.latency.samples), (2003, 4, 1));
    }
}
