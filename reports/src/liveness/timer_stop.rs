//! A periodic timer that stopped firing while the guest's clock ran on.
//!
//! Seen once on a 6.1 guest on acpi_pm (`ci/main.sh`, 2026-12-03, one run
//! of two): after a 9 s freeze that its kernel refused as a negative
//! counter delta, the probe's timer thread never woke again for the 16 s
//! left of the run, while its CLOCK_MONOTONIC, the samplers and the HZ
//! tick all ran on (local timer interrupts fell from ~500/s to ~280/s,
//! the tick's 250 and the rest). Nothing in the tick windows says so: they
//! simply stop. The beacons do: each carries the timer's wake-ups so far,
//! answered by the channel thread whether or not the timer runs.
//!
//! Pure: fed the recorded beacons in order.

use clockstorm_protocol::Beacon;
use serde::{Deserialize, Serialize};

/// Guest CLOCK_MONOTONIC that must pass with no timer wake-up for a stop.
/// Longer than the longest hold of the SCHED_FIFO timer thread by the
/// kernel's RT throttling measured (3.72 s after a 5 s freeze, in an
/// earlier session's run of vf-reload), which
/// the faults report as throttling; and a timer that fires at all fires
/// many times a second.
pub const TIMER_STOP_MIN_NS: u64 = 5_000_000_000;

/// A stretch of beacons in which the probe's timer did not wake while the
/// guest's CLOCK_MONOTONIC advanced at least [`TIMER_STOP_MIN_NS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimerStop {
    /// The timer's wake-ups so far, which did not change.
    pub wakeups: u64,
    /// Guest CLOCK_MONOTONIC at its last wake-up, in ns.
    pub last_wake_mono_ns: u64,
    /// Host realtime of the second beacon with that count (the first may
    /// have been answered before a freeze the timer then had no chance to
    /// run in) and of the last one.
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// Guest CLOCK_MONOTONIC that passed between those two beacons.
    pub guest_advanced_ns: u64,
    /// Beacons between them, both included.
    pub beacons: u64,
    /// Host realtime of the first beacon with more wake-ups; None: the timer
    /// had not fired again when the run ended.
    pub resumed_ns: Option<i64>,
}

impl TimerStop {
    pub fn recovered(&self) -> bool {
        self.resumed_ns.is_some()
    }

    /// The evidence in words.
    pub fn evidence(&self) -> String {
        let end = match self.resumed_ns {
            Some(r) => format!("; it fired again {:.2} s later (host time)", (r - self.last_seen_ns) as f64 / 1e9),
            None => "; it had not fired again when the run ended, so the tick backlog and missed wake-ups stop at its last window".into(),
        };
        format!(
            "the probe's periodic timer did not fire while the guest's CLOCK_MONOTONIC advanced {:.2} s ({} beacons over {:.2} s of host time): \
             its timer thread last woke at CLOCK_MONOTONIC {:.3} s, after {} wake-ups; the guest kernel stopped firing it or kept the thread off its CPU{end}",
            self.guest_advanced_ns as f64 / 1e9,
            self.beacons,
            (self.last_seen_ns - self.first_seen_ns) as f64 / 1e9,
            self.last_wake_mono_ns as f64 / 1e9,
            self.wakeups,
        )
    }
}

/// Beacons, one after another, into timer stops.
#[derive(Debug, Default)]
pub struct TimerStopDetector {
    open: Option<Stretch>,
    found: Vec<TimerStop>,
}

#[derive(Debug)]
struct Stretch {
    wakeups: u64,
    last_wake_mono_ns: u64,
    /// The second beacon with this count (host realtime, guest monotonic).
    second: Option<(i64, u64)>,
    last: (i64, u64),
    beacons: u64,
}

impl TimerStopDetector {
    pub fn new() -> Self {
        Self::default()
    }

    /// One beacon answer that arrived at host realtime `host_ns`.
    pub fn observe(&mut self, host_ns: i64, b: &Beacon) {
        // No wake-up yet: no timer (`tick_rate_hz = 0`) or not started.
        if b.timer_wakeups == 0 {
            return;
        }
        let here = (host_ns, b.monotonic_ns);
        match &mut self.open {
            Some(s) if s.wakeups == b.timer_wakeups => {
                s.second.get_or_insert(here);
                s.last = here;
                s.beacons += 1;
            }
            _ => {
                if let Some(s) = self.open.take() {
                    self.close(s, Some(host_ns));
                }
                self.open = Some(Stretch { wakeups: b.timer_wakeups, last_wake_mono_ns: b.timer_last_wake_ns, second: None, last: here, beacons: 0 });
            }
        }
    }

    fn close(&mut self, s: Stretch, resumed_ns: Option<i64>) {
        let Some(second) = s.second else { return };
        let guest_advanced_ns = s.last.1.saturating_sub(second.1);
        if guest_advanced_ns >= TIMER_STOP_MIN_NS {
            self.found.push(TimerStop {
                wakeups: s.wakeups,
                last_wake_mono_ns: s.last_wake_mono_ns,
                first_seen_ns: second.0,
                last_seen_ns: s.last.0,
                guest_advanced_ns,
                beacons: s.beacons,
                resumed_ns,
            });
        }
    }

    /// Every stop, the one still open at the end of the run included.
    pub fn finish(mut self) -> Vec<TimerStop> {
        if let Some(s) = self.open.take() {
            self.close(s, None);
        }
        self.found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn beacon(mono_s: f64, wakeups: u64, last_wake_s: f64) -> Beacon {
        let monotonic_ns = (mono_s * 1e9) as u64;
        Beacon {
            seq: 0,
            tsc: monotonic_ns,
            monotonic_ns,
            realtime_ns: 0,
            samplers: Vec::new(),
            timer_wakeups: wakeups,
            timer_last_wake_ns: (last_wake_s * 1e9) as u64,
        }
    }

    /// Beacons every 250 ms of host time from `from_s`, the guest clock
    /// running with it, the timer at 250 Hz unless `stuck`.
    fn feed(d: &mut TimerStopDetector, from_s: f64, n: usize, mono_at: f64, stuck: Option<u64>) -> (f64, f64) {
        for i in 0..n {
            let (host, mono) = (from_s + i as f64 * 0.25, mono_at + i as f64 * 0.25);
            let b = match stuck {
                Some(w) => beacon(mono, w, 13.314),
                None => beacon(mono, (mono * 250.0) as u64, mono),
            };
            d.observe((host * S as f64) as i64, &b);
        }
        (from_s + n as f64 * 0.25, mono_at + n as f64 * 0.25)
    }

    #[test]
    fn a_timer_that_stops_while_the_clock_runs_is_named_with_its_last_wake_up() {
        let mut d = TimerStopDetector::new();
        let (host, mono) = feed(&mut d, 0.0, 40, 3.0, None);
        feed(&mut d, host, 64, mono, Some(1976));
        let stops = d.finish();
        assert_eq!(stops.len(), 1, "{stops:?}");
        let t = &stops[0];
        assert_eq!((t.wakeups, t.last_wake_mono_ns, t.beacons, t.resumed_ns), (1976, 13_314_000_000, 63, None));
        assert_eq!(t.guest_advanced_ns, 15_500_000_000, "from the second beacon of the stretch to the last");
        let e = t.evidence();
        assert!(e.contains("advanced 15.50 s") && e.contains("last woke at CLOCK_MONOTONIC 13.314 s, after 1976 wake-ups"), "{e}");
        assert!(e.contains("had not fired again when the run ended"), "{e}");
    }

    #[test]
    fn a_freeze_answered_before_the_timer_runs_again_is_not_a_stop_and_a_held_timer_that_resumes_is_said() {
        let mut d = TimerStopDetector::new();
        let (host, mono) = feed(&mut d, 0.0, 8, 1.0, None);
        // A 9 s whole-VM freeze: the first beacon after it arrives 9 s later
        // with the clock 9 s on, answered before the timer thread ran.
        d.observe(((host + 9.0) * S as f64) as i64, &beacon(mono + 9.0, (mono * 250.0) as u64 - 1, mono));
        let (host, mono) = feed(&mut d, host + 9.25, 8, mono + 9.25, None);
        // Held off for 6 s of guest time, then it fires again.
        let (host, mono) = feed(&mut d, host, 26, mono, Some(9_000));
        feed(&mut d, host, 4, mono, None);
        let stops = d.finish();
        assert_eq!(stops.len(), 1, "only the 6 s hold, not the freeze: {stops:?}");
        assert!(stops[0].recovered() && stops[0].guest_advanced_ns == 6_000_000_000, "{stops:?}");
        assert!(stops[0].evidence().contains("it fired again 0.25 s later"), "{}", stops[0].evidence());
    }

    #[test]
    fn a_run_without_a_timer_or_with_a_short_hold_has_no_stop() {
        let mut d = TimerStopDetector::new();
        let (host, mono) = feed(&mut d, 0.0, 40, 1.0, Some(0));
        // A 3.7 s hold (the longest RT throttling measured): below the bar.
        let (host, mono) = feed(&mut d, host, 8, mono, None);
        let (host, mono) = feed(&mut d, host, 16, mono, Some(5_000));
        feed(&mut d, host, 4, mono, None);
        assert!(d.finish().is_empty());
    }
}
