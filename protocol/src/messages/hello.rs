use serde::{Deserialize, Serialize};

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
    /// The kernel's tick rate (CONFIG_HZ), estimated from jiffies against
    /// CLOCK_MONOTONIC and snapped to 100/250/300/1000; None if unclear.
    pub hz: Option<u32>,
    /// CLOCK_BOOTTIME when the probe sent Hello: kernel boot to probe start.
    pub boottime_ns: u64,
    /// How long the probe waited for the kernel to switch to the requested
    /// clocksource (e.g. from tsc-early to tsc), in ms.
    pub clocksource_settle_ms: u64,
    /// The KVM PTP clock device, if the guest has one.
    pub ptp_device: Option<String>,
    /// Cost of one read of each sampled clock, measured before sampling.
    pub read_cost: crate::ReadCost,
    /// Where the time from kernel start to this message went. None from
    /// probes before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_phases: Option<BootPhases>,
}

/// CLOCK_BOOTTIME at the probe's steps before Hello (`boottime_ns`). In a
/// clockstorm guest the probe is /init, so `probe_started_ns` is the
/// kernel's own boot; standalone it is the machine's uptime at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BootPhases {
    /// The probe's first instruction.
    pub probe_started_ns: u64,
    /// The mounts, the config and the data channel's kernel modules done
    /// (standalone: equal to `probe_started_ns`).
    pub modules_loaded_ns: u64,
    /// The data channel open (its device found and opened).
    pub channel_open_ns: u64,
    /// The kernel on the requested clocksource (after the settle wait);
    /// from here to Hello: the HZ estimate and the read-cost calibration.
    pub clocksource_settled_ns: u64,
}

/// The guest's clocksource as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksourceState {
    pub current: String,
    pub available: Vec<String>,
}

/// The probe's last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {
    pub outcome: ProbeOutcome,
    /// Clock reads over all samplers.
    pub samples: u64,
    pub windows: u64,
    /// Messages the probe could not queue (full queue) and dropped, by source.
    pub dropped: Dropped,
    pub exchanges: u64,
    /// Exchanges the host did not answer in time.
    pub exchanges_lost: u64,
    /// Exchanges over the shared-memory reference, and those it did not
    /// answer in time (0 and 0 without one).
    #[serde(default)]
    pub shm_exchanges: u64,
    #[serde(default)]
    pub shm_exchanges_lost: u64,
    /// Peak resident set size of the probe (VmHWM), in KiB.
    pub peak_rss_kib: u64,
    /// CPU time the probe used, in ms.
    pub cpu_user_ms: u64,
    pub cpu_system_ms: u64,
}

/// Dropped-message counters, one per producer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropped {
    pub sampler: u64,
    pub ticks: u64,
    pub kernel: u64,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.sampler + self.ticks + self.kernel
    }
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
