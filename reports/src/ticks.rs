//! Tick backlog: ticks the guest should have seen by the *host's* clock minus
//! ticks it saw. Counting against host time means ticks lost while the
//! guest's own clock also lost time (a wrapped acpi_pm, a paused VM) still
//! count.

use clockstorm_protocol::{KernelCounters, TickWindow};
use serde::{Deserialize, Serialize};

use crate::timebase::Timebase;

/// Backlog of one counter over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Backlog {
    /// Ticks expected over the whole run from host elapsed time.
    pub expected: f64,
    /// Ticks seen.
    pub seen: u64,
    /// expected - seen at the end of the run.
    pub total: f64,
    /// Largest expected - seen at any sample point.
    pub max: f64,
}

/// Backlog of a counter sampled at guest realtime stamps, against a rate in Hz.
/// `samples` are (guest realtime ns, cumulative count), in order.
pub fn backlog(samples: &[(i64, u64)], rate_hz: f64, timebase: &Timebase) -> Option<Backlog> {
    let (first, last) = (samples.first()?, samples.last()?);
    let points = backlog_points(samples, rate_hz, timebase)?;
    let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let total = points.last()?.1;
    let expected = (timebase.host_at(last.0)? - timebase.host_at(first.0)?) as f64 / 1e9 * rate_hz;
    Some(Backlog { expected, seen: last.1.saturating_sub(first.1), total, max })
}

/// The backlog at every sample: (host realtime ns, expected - seen), or
/// None when a sample cannot be placed on the host's time line.
pub fn backlog_points(samples: &[(i64, u64)], rate_hz: f64, timebase: &Timebase) -> Option<Vec<(i64, f64)>> {
    let first = samples.first()?;
    let host0 = timebase.host_at(first.0)?;
    samples
        .iter()
        .map(|&(guest, count)| {
            let host = timebase.host_at(guest)?;
            Some((host, (host - host0) as f64 / 1e9 * rate_hz - count.saturating_sub(first.1) as f64))
        })
        .collect()
}

/// Tick figures of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TickSummary {
    /// The probe's timer: expirations the kernel counted against host time.
    pub timer_expirations: Option<Backlog>,
    /// Timer wake-ups the probe missed (expirations - wake-ups).
    pub timer_missed_wakeups: u64,
    /// Wake-up latency, worst p99 and max over the windows, in ns.
    pub timer_latency_p99_ns: Option<u64>,
    pub timer_latency_max_ns: Option<u64>,
    /// Local timer interrupts of all CPUs per host second. Not a backlog:
    /// with high-resolution timers every hrtimer expiry (the probe's own
    /// timer included) is a local timer interrupt, not only the HZ tick.
    pub local_timer_interrupts_per_s: Option<f64>,
    /// jiffies against HZ.
    pub jiffies: Option<Backlog>,
    /// Steal time over the run, in USER_HZ ticks.
    pub steal_ticks: Option<u64>,
}

/// Count per host second between the first and last sample.
fn rate_per_host_second(samples: &[(i64, u64)], timebase: &Timebase) -> Option<f64> {
    let (a, b) = (samples.first()?, samples.last()?);
    let elapsed = (timebase.host_at(b.0)? - timebase.host_at(a.0)?) as f64 / 1e9;
    (elapsed > 0.0).then(|| b.1.saturating_sub(a.1) as f64 / elapsed)
}

pub fn summarize(ticks: &[TickWindow], counters: &[KernelCounters], hz: Option<u32>, timebase: &Timebase) -> TickSummary {
    let rate = ticks.first().map(|t| t.rate_hz as f64).unwrap_or(0.0);
    let timer: Vec<(i64, u64)> = ticks.iter().map(|t| (t.realtime_ns, t.expirations)).collect();
    let missed = match (ticks.first(), ticks.last()) {
        (Some(a), Some(b)) => (b.expirations - a.expirations).saturating_sub(b.wakeups - a.wakeups),
        _ => 0,
    };
    let cpus = counters.iter().map(|c| c.local_timer_interrupts.len()).max().unwrap_or(0);
    let loc: Vec<(i64, u64)> = counters
        .iter()
        .filter(|c| c.local_timer_interrupts.len() == cpus && cpus > 0)
        .map(|c| (c.realtime_ns, c.local_timer_interrupts.iter().sum()))
        .collect();
    let jiffies: Vec<(i64, u64)> = counters.iter().filter_map(|c| c.jiffies).map(|j| (j.realtime_ns, j.value)).collect();
    let steal = match (counters.iter().find_map(|c| c.steal_ticks), counters.iter().rev().find_map(|c| c.steal_ticks)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    TickSummary {
        timer_expirations: backlog(&timer, rate, timebase),
        timer_missed_wakeups: missed,
        timer_latency_p99_ns: ticks.iter().map(|t| t.latency.p99_ns).max(),
        timer_latency_max_ns: ticks.iter().map(|t| t.latency.max_ns).max(),
        local_timer_interrupts_per_s: rate_per_host_second(&loc, timebase),
        jiffies: hz.and_then(|hz| backlog(&jiffies, hz as f64, timebase)),
        steal_ticks: steal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clockstorm_protocol::Exchange;

    #[test]
    fn ticks_lost_while_the_guest_clock_also_lost_time_are_counted() {
        // The guest clock runs 2 s behind the host after t = 10 s (a 2 s
        // pause it could not see): exchanges before and after say so.
        let s = 1_000_000_000i64;
        let before = Exchange::from_timestamps(0, 0, 0, 0);
        let after = Exchange::from_timestamps(1, 12 * s, 14 * s, 12 * s);
        let tb = Timebase::new(&[before, after]);
        // 1 kHz timer: by guest time 12 s the guest counted 12 000 expirations,
        // but 14 s of host time passed.
        let samples = [(0, 0), (10 * s, 10_000), (12 * s, 12_000)];
        let b = backlog(&samples, 1000.0, &tb).unwrap();
        assert_eq!(b.seen, 12_000);
        assert!((b.expected - 14_000.0).abs() < 1.0, "{b:?}");
        assert!((b.total - 2_000.0).abs() < 1.0, "{b:?}");
    }

    #[test]
    fn an_idle_guest_in_step_with_the_host_has_no_backlog() {
        let tb = Timebase::new(&[Exchange::from_timestamps(0, 0, 0, 0)]);
        let s = 1_000_000_000i64;
        let samples: Vec<(i64, u64)> = (0..=10).map(|i| (i * s / 10, (i * 25) as u64)).collect();
        let b = backlog(&samples, 250.0, &tb).unwrap();
        assert_eq!(b.total, 0.0);
        assert_eq!(b.max, 0.0);
        assert!(backlog(&[], 250.0, &tb).is_none());
    }
}
