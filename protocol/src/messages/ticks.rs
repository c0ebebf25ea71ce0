use serde::{Deserialize, Serialize};

/// One window of the probe's periodic timer (a timerfd on CLOCK_MONOTONIC).
/// Counts are cumulative since the timer started, so a dropped window loses
/// no totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickWindow {
    pub index: u64,
    /// The timer's rate.
    pub rate_hz: u32,
    /// Guest CLOCK_MONOTONIC and CLOCK_REALTIME at the end of the window, in ns.
    pub mono_ns: u64,
    pub realtime_ns: i64,
    /// Expirations since start, as the kernel counts them (including those
    /// missed while the probe did not run: overruns).
    pub expirations: u64,
    /// Times the probe woke up for the timer since start.
    pub wakeups: u64,
    /// Wake-up latency over this window (time from the expiry to the probe
    /// running), in ns.
    pub latency: LatencyStats,
}

/// Percentiles of timer wake-up latency in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyStats {
    pub samples: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// Kernel counters read from /proc at ~10 Hz. Cumulative, as the kernel reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelCounters {
    /// Guest CLOCK_MONOTONIC and CLOCK_REALTIME when read, in ns.
    pub mono_ns: u64,
    pub realtime_ns: i64,
    /// Local timer interrupts per CPU (/proc/interrupts LOC).
    pub local_timer_interrupts: Vec<u64>,
    /// jiffies (/proc/timer_list), with the time the kernel read them.
    pub jiffies: Option<Jiffies>,
    /// Steal time of all CPUs, in USER_HZ ticks (/proc/stat).
    pub steal_ticks: Option<u64>,
}

/// A jiffies reading. The time is the kernel's own `now at` of the same
/// /proc/timer_list read, converted to CLOCK_REALTIME: the probe's thread can
/// be preempted between its own clock read and the file read, and a few ms of
/// skew is a jiffy at HZ=250.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jiffies {
    pub value: u64,
    pub realtime_ns: i64,
}
