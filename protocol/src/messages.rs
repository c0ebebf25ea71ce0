use serde::{Deserialize, Serialize};

/// Everything the probe sends to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum GuestMessage {
    Hello(Hello),
    /// First half of an NTP-style exchange: `t1` is the guest's
    /// CLOCK_REALTIME just before sending, in ns since the epoch.
    Ping { seq: u64, t1_ns: i64 },
    /// A completed exchange, as the guest computed it.
    Exchange(Exchange),
    /// The initial clock step the probe applied (see `ProbeConfig::initial_sync_exchanges`).
    Synced(Synced),
    ReadCost(ReadCost),
    Window(Window),
    /// A single gap between clock reads longer than the configured threshold.
    Gap(Gap),
    Done(Done),
    /// The probe cannot go on; the run is failed with this reason.
    Failure { message: String },
}

/// What the host sends to the probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostMessage {
    /// Second half of an exchange: `t2` is the host's CLOCK_REALTIME when the
    /// matching ping was read, in ns since the epoch.
    Pong { seq: u64, t2_ns: i64 },
}

/// The probe's first message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    pub protocol_version: u32,
    pub probe_version: String,
    pub run_id: String,
    /// `uname -r` of the guest.
    pub kernel_release: String,
    pub clocksource: ClocksourceState,
    pub vcpus: u32,
    /// TSC-related flags from /proc/cpuinfo (tsc, rdtscp, constant_tsc, ...).
    pub tsc_flags: Vec<String>,
    /// The kernel's tick rate, when the probe could tell.
    pub hz: Option<u32>,
    /// CLOCK_BOOTTIME when the probe sent Hello: kernel boot to probe start.
    pub boottime_ns: u64,
    /// How long the probe waited for the kernel to switch to the requested
    /// clocksource (e.g. from tsc-early to tsc), in ms.
    pub clocksource_settle_ms: u64,
}

/// The guest's clocksource as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksourceState {
    pub current: String,
    pub available: Vec<String>,
}

/// One NTP-style exchange. `offset = t2 - (t1 + t3) / 2` is how far the host
/// clock is ahead of the guest clock; the true offset lies within
/// `uncertainty = (t3 - t1) / 2` of it, whatever the path asymmetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub seq: u64,
    pub t1_ns: i64,
    pub t2_ns: i64,
    pub t3_ns: i64,
    pub offset_ns: i64,
    pub uncertainty_ns: i64,
}

impl Exchange {
    /// Builds an exchange from its three timestamps.
    pub fn from_timestamps(seq: u64, t1_ns: i64, t2_ns: i64, t3_ns: i64) -> Self {
        // Halve before adding: realtime stamps near 1.7e18 ns would overflow i64 when summed.
        let midpoint = t1_ns / 2 + t3_ns / 2 + (t1_ns % 2 + t3_ns % 2) / 2;
        Exchange {
            seq,
            t1_ns,
            t2_ns,
            t3_ns,
            offset_ns: t2_ns - midpoint,
            uncertainty_ns: (t3_ns - t1_ns) / 2,
        }
    }
}

/// The step applied to the guest's CLOCK_REALTIME at start, so that later
/// offsets read directly as time gained or lost since the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synced {
    /// The best exchange of the initial burst (smallest uncertainty).
    pub best: Exchange,
    /// Amount added to CLOCK_REALTIME, in ns.
    pub step_ns: i64,
}

/// Cost of one clock read, measured in a calibration loop before sampling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadCost {
    pub clock_gettime_monotonic_ns: f64,
    pub rdtsc_ns: f64,
    /// How many reads each figure averages.
    pub reads: u64,
}

/// Summary of one sampling window of the tight clock-read loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub index: u64,
    /// CLOCK_MONOTONIC at the first and last read of the window, in ns.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Clock reads taken in the window.
    pub samples: u64,
    /// Longest interval between consecutive CLOCK_MONOTONIC reads, in ns, and
    /// the CLOCK_MONOTONIC time at which that interval ended.
    pub max_gap_ns: u64,
    pub max_gap_at_ns: u64,
    /// Reads at which CLOCK_MONOTONIC or the TSC went backwards.
    pub backwards_steps: u64,
    /// Largest backwards step seen (ns for the clock).
    pub worst_backwards_ns: u64,
    pub tsc_backwards_steps: u64,
    /// TSC ticks elapsed over the window (for the TSC rate against the clock).
    pub tsc_ticks: u64,
    /// Windows the probe could not send because its queue was full, so far.
    pub dropped_windows: u64,
}

/// A gap longer than the threshold, sent the moment it is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// CLOCK_MONOTONIC at the read that ended the gap, in ns.
    pub at_ns: u64,
    pub gap_ns: u64,
}

/// The probe's last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {
    pub outcome: ProbeOutcome,
    pub samples: u64,
    pub windows: u64,
    pub dropped_windows: u64,
    pub exchanges: u64,
    /// Peak resident set size of the probe (VmHWM), in KiB.
    pub peak_rss_kib: u64,
    /// CPU time the probe used, in ms.
    pub cpu_user_ms: u64,
    pub cpu_system_ms: u64,
}

/// How the probe's run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeOutcome {
    /// Measured for the whole duration.
    Completed,
    /// The kernel did not use the requested clocksource; nothing was measured.
    ClocksourceNotHonored { requested: String, got: String },
}
