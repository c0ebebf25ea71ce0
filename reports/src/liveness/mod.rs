//! Whether the guest still keeps time, from evidence that does not depend on
//! the guest's clocks: the probe answers beacons the host paces by its own
//! clock, each answer carrying the guest's CLOCK_MONOTONIC, its TSC and the
//! samplers' read counts. A clock whose value stands still across beacons
//! spanning [`STOP_MIN_NS`] of host time, while the TSC advanced, has
//! stopped; it has recovered once [`RESUME_BEACONS`] beacons in a row read
//! a climbing value past the one it stood at.
//!
//! Pure: the harness runs the same detector live (to name the state while the
//! guest is still running and end a run whose clock never comes back), and
//! the analysis runs it again over the recorded beacons.

use clockstorm_protocol::Beacon;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;
mod timer_stop;

pub use timer_stop::{TimerStop, TimerStopDetector, TIMER_STOP_MIN_NS};

/// Host time a clock's value must stand still to count as stopped. Beacons
/// come every 250 ms, and a guest clock that lost wraps of a narrow counter
/// can stand still for part of a wrap (acpi_pm: up to 2.3 s) before it runs
/// again: that is reported too, as a stop that recovered.
pub const STOP_MIN_NS: i64 = 1_000_000_000;

/// Beacons in a row that must climb past the highest value for a clock
/// reported stopped to count as advancing again (750 ms of clock time at
/// one beacon every 250 ms: more than the sawtooth a stopped timekeeper
/// runs can climb past the highest value the beacons happened to see).
pub const RESUME_BEACONS: usize = 3;

/// One beacon answer as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeaconPoint {
    /// Host CLOCK_REALTIME when the answer arrived.
    pub host_ns: i64,
    pub tsc: u64,
    pub monotonic_ns: u64,
    /// The probe's timer thread's wake-ups so far.
    pub timer_wakeups: u64,
    /// Largest count of reads any sampler made since its clock last got past
    /// its highest value, and the TSC ticks those reads took.
    pub unchanged_reads: u64,
    pub unchanged_tsc_ticks: u64,
}

impl BeaconPoint {
    pub fn of(host_ns: i64, b: &Beacon) -> BeaconPoint {
        let worst = b.samplers.iter().max_by_key(|s| s.unchanged_reads);
        BeaconPoint {
            host_ns,
            tsc: b.tsc,
            monotonic_ns: b.monotonic_ns,
            timer_wakeups: b.timer_wakeups,
            unchanged_reads: worst.map(|s| s.unchanged_reads).unwrap_or(0),
            unchanged_tsc_ticks: worst.map(|s| s.unchanged_tsc_ticks).unwrap_or(0),
        }
    }
}

/// A stretch of host time in which the guest's CLOCK_MONOTONIC did not get
/// past the highest value it had reached: it stood still, or (seen on a
/// 6.12 guest on acpi_pm after a freeze between 7/8 of a wrap and a wrap)
/// it ran over the same few seconds again and again, stepping back each
/// time the counter wrapped. Either way the guest's time stopped advancing,
/// and every timer set beyond that value never fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClockStop {
    pub clock: String,
    /// The highest value it had reached and did not get past, in ns.
    pub value_ns: u64,
    /// The lowest value read meanwhile, in ns (= value_ns when it stood still).
    pub lowest_ns: u64,
    /// Beacons that read a value below the one before: steps back.
    pub steps_back: u64,
    /// Host realtime of the beacon that read `value_ns`, and of the last
    /// one that did not get past it.
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// Host realtime of the first beacon past it again; None: it had not
    /// got past it when the run ended.
    pub resumed_ns: Option<i64>,
    /// How far past it that beacon read, in ns.
    pub jump_ns: Option<i64>,
    /// Beacons that did not get past it.
    pub beacons: u64,
    /// TSC ticks between the first and the last of them.
    pub tsc_ticks: u64,
    /// The probe's periodic timer's wake-ups meanwhile.
    pub timer_wakeups: u64,
    /// Most reads one sampler made that did not get past its highest value,
    /// and the TSC ticks they took (0 when no sampler saw it).
    pub sampler_reads: u64,
    pub sampler_tsc_ticks: u64,
}

impl ClockStop {
    /// Host time it did not advance as far as the beacons show: up to the
    /// first beacon past it, or the last one that was not.
    pub fn stopped_ns(&self) -> i64 {
        self.until_ns() - self.first_seen_ns
    }

    /// Host realtime it is known still to the end of: the first beacon past
    /// it, or the last one that was not.
    pub fn until_ns(&self) -> i64 {
        self.resumed_ns.unwrap_or(self.last_seen_ns)
    }

    pub fn recovered(&self) -> bool {
        self.resumed_ns.is_some()
    }

    /// The evidence in words.
    pub fn evidence(&self) -> String {
        let how = if self.steps_back == 0 {
            format!("stood at {:.6} s", self.value_ns as f64 / 1e9)
        } else {
            format!(
                "did not get past {:.6} s, stepping back {} times to as low as {:.6} s",
                self.value_ns as f64 / 1e9,
                self.steps_back,
                self.lowest_ns as f64 / 1e9
            )
        };
        let mut s = format!(
            "CLOCK_{} {how} in {} beacons over {:.2} s of host time while the TSC advanced {} ticks; the probe's timer fired {} times",
            self.clock.to_uppercase(),
            self.beacons,
            (self.last_seen_ns - self.first_seen_ns) as f64 / 1e9,
            self.tsc_ticks,
            self.timer_wakeups
        );
        if self.sampler_reads > 0 {
            s.push_str(&format!("; {} sampler reads in a row did not get past it ({} TSC ticks)", self.sampler_reads, self.sampler_tsc_ticks));
        }
        match (self.resumed_ns, self.jump_ns) {
            (Some(r), Some(j)) => s.push_str(&format!(
                "; it advanced again {:.2} s after it reached that value, by {:.3} s",
                (r - self.first_seen_ns) as f64 / 1e9,
                j as f64 / 1e9
            )),
            _ => s.push_str("; it had not advanced again when the run ended"),
        }
        s
    }
}

/// What one beacon changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The clock has now not advanced for [`STOP_MIN_NS`].
    Stopped(ClockStop),
    /// A clock reported stopped advanced again.
    Resumed(ClockStop),
}

/// Beacons, one after another, into stops.
#[derive(Debug, Default)]
pub struct StopDetector {
    /// The beacon that read the highest value so far.
    high: Option<BeaconPoint>,
    /// Since `high`: the last beacon, how many, the lowest value, steps back.
    last: Option<BeaconPoint>,
    beacons: u64,
    lowest: u64,
    steps_back: u64,
    max_reads: (u64, u64),
    /// Whether the current stretch was reported stopped.
    reported: bool,
    /// Beacons in a row past the highest value since the report.
    climb: Vec<BeaconPoint>,
    finished: Vec<ClockStop>,
}

impl StopDetector {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn observe(&mut self, p: BeaconPoint) -> Option<Transition> {
        let Some(high) = self.high else {
            self.restart(p);
            return None;
        };
        if p.monotonic_ns > high.monotonic_ns {
            if !self.reported {
                // Time advances (or a stand-still too short to report ended).
                self.restart(p);
                return None;
            }
            // A clock reported stopped must climb past its old highest value
            // for [`RESUME_BEACONS`] beacons in a row: one that runs over the
            // same seconds again and again gets past the highest value the
            // beacons happened to see by a little, then steps back.
            if self.climb.last().is_none_or(|l| p.monotonic_ns > l.monotonic_ns) {
                self.climb.push(p);
            }
            if self.climb.len() >= RESUME_BEACONS {
                let first = self.climb[0];
                let stop = self.current(Some(first));
                self.finished.extend(stop.clone());
                self.restart(*self.climb.last().expect("climbed"));
                return stop.map(Transition::Resumed);
            }
            return None;
        }
        if let Some(top) = self.climb.iter().max_by_key(|c| c.monotonic_ns).copied() {
            // It got past the old value only to step back: it still does not
            // advance, and the highest value it reached is now a little higher.
            self.high = Some(BeaconPoint { host_ns: high.host_ns, tsc: high.tsc, timer_wakeups: high.timer_wakeups, ..top });
            self.climb.clear();
        }
        if self.last.unwrap_or(high).monotonic_ns > p.monotonic_ns {
            self.steps_back += 1;
        }
        self.last = Some(p);
        self.beacons += 1;
        self.lowest = self.lowest.min(p.monotonic_ns);
        if p.unchanged_reads >= self.max_reads.0 {
            self.max_reads = (p.unchanged_reads, p.unchanged_tsc_ticks);
        }
        let long = p.host_ns - high.host_ns >= STOP_MIN_NS;
        // The TSC advanced: the guest ran (a paused guest answers nothing).
        if long && p.tsc > high.tsc && !self.reported {
            self.reported = true;
            return Some(Transition::Stopped(self.current(None).expect("a stretch is open")));
        }
        None
    }

    fn restart(&mut self, p: BeaconPoint) {
        let finished = std::mem::take(&mut self.finished);
        *self = StopDetector { high: Some(p), lowest: p.monotonic_ns, finished, ..StopDetector::default() };
    }

    /// The open stretch as a stop; `next`: the beacon that ended it.
    fn current(&self, next: Option<BeaconPoint>) -> Option<ClockStop> {
        let (high, last) = (self.high?, self.last?);
        Some(ClockStop {
            clock: "monotonic".into(),
            value_ns: high.monotonic_ns,
            lowest_ns: self.lowest,
            steps_back: self.steps_back,
            first_seen_ns: high.host_ns,
            last_seen_ns: last.host_ns,
            resumed_ns: next.map(|n| n.host_ns),
            jump_ns: next.map(|n| n.monotonic_ns as i64 - high.monotonic_ns as i64),
            beacons: self.beacons,
            tsc_ticks: last.tsc.wrapping_sub(high.tsc),
            timer_wakeups: last.timer_wakeups.saturating_sub(high.timer_wakeups),
            sampler_reads: self.max_reads.0,
            sampler_tsc_ticks: self.max_reads.1,
        })
    }

    /// The clock is stopped now: the open stop, if reported.
    pub fn stopped(&self) -> Option<ClockStop> {
        if self.reported {
            self.current(None)
        } else {
            None
        }
    }

    /// Every stop, the one still open last.
    pub fn finish(mut self) -> Vec<ClockStop> {
        if let Some(open) = self.stopped() {
            self.finished.push(open);
        }
        self.finished
    }
}
