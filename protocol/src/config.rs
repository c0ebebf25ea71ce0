use serde::{Deserialize, Serialize};

use crate::ClockId;

/// How many phases the in-guest benchmark takes, in all: the bare loop
/// and the sampler alternating (201 slices of a hundredth of a phase), then
/// the CPU task alone and beside each of six parts of the probe, five
/// rounds of a tenth of a phase each way (6 phases). The harness waits
/// this long for it.
pub const BENCHMARK_PHASES: f64 = 8.01;

/// What the probe should do, written by the harness into the initramfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Must equal [`crate::PROTOCOL_VERSION`]; the probe refuses other versions.
    pub protocol_version: u32,
    /// Identifier of the run, echoed in Hello so results cannot be mixed up.
    pub run_id: String,
    /// Clocksource the guest was asked to use (`clocksource=` on the command
    /// line). If the kernel ended up on another one the probe reports it and
    /// does not measure.
    pub expected_clocksource: Option<String>,
    /// How long to measure, in milliseconds.
    pub duration_ms: u64,
    /// Length of a summary window, in milliseconds.
    pub window_ms: u64,
    /// Interval between NTP-style exchanges with the host, in milliseconds.
    pub exchange_interval_ms: u64,
    /// Number of exchanges at start; the one with the smallest round trip
    /// steps the guest's CLOCK_REALTIME onto host time.
    pub initial_sync_exchanges: u32,
    /// A gap between consecutive clock reads longer than this is reported as
    /// an event at once, in nanoseconds.
    pub gap_event_threshold_ns: u64,
    /// A gap at least this long starts a burst of exchanges right away, to
    /// measure the step across the fault tightly, in nanoseconds.
    pub burst_after_gap_ns: u64,
    /// Exchanges in such a burst.
    pub burst_exchanges: u32,
    /// Clocks the samplers rotate through, one per window.
    pub clocks: Vec<ClockId>,
    /// Rate of the periodic timer that counts ticks and wake-up latency.
    /// 0: no timer (no wake-up latency, timer stalls or tick windows; the
    /// tick backlog then comes from jiffies alone).
    pub tick_rate_hz: u32,
    /// Interval of the /proc counters and clocksource polls, in milliseconds.
    pub poll_interval_ms: u64,
    /// Forward /dev/kmsg lines.
    pub forward_kmsg: bool,
    /// Run the in-guest benchmark first, each phase this long (ms); it
    /// takes [`BENCHMARK_PHASES`] phases.
    #[serde(default)]
    pub benchmark_phase_ms: Option<u64>,
    /// The device node of the data channel inside the guest.
    pub data_device: DataDevice,
    /// Kernel modules to load before opening the data channel, in order
    /// (paths inside the initramfs).
    pub modules: Vec<String>,
    /// A time service to start after the initial sync, on a guest network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_service: Option<TimeServiceLaunch>,
    /// Look for the shared-memory reference (an ivshmem PCI device) and
    /// exchange over it beside the data channel; without the device the
    /// probe says so and goes on with the data channel alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shm_reference: bool,
}

/// How the probe brings up the guest's network and starts a time service
/// (chronyd) on it. The host's NTP server's port is only known when the run
/// starts, so it comes on the kernel command line
/// ([`TIME_SERVER_CMDLINE_KEY`]`=ADDRESS:PORT`), which keeps one initramfs
/// for every run of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeServiceLaunch {
    /// The service's name in reports, e.g. `chrony`.
    pub name: String,
    /// Modules the network device needs, in load order (paths in the initramfs).
    pub net_modules: Vec<String>,
    /// The guest's address with prefix length, e.g. `10.0.2.15/24`.
    pub address: String,
    /// The service's configuration file inside the guest; the probe appends
    /// [`TimeServiceLaunch::source_line`] to it.
    pub config_path: String,
    /// The line naming the host's server, with `{address}` and `{port}`
    /// filled in from the kernel command line.
    pub source_line: String,
    /// The command (absolute path first); its stderr is forwarded line by line.
    pub argv: Vec<String>,
    /// Directories the service expects to exist (state, run, log).
    pub dirs: Vec<String>,
}

/// Kernel command line key that carries the host's NTP server (`ADDRESS:PORT`).
pub const TIME_SERVER_CMDLINE_KEY: &str = "clockstorm.ntp";

/// The probe's periodic timer rate when a scenario does not set one: the
/// guest kernel's own tick on Debian (HZ=250). Under TCG each wake-up is an
/// emulated timer interrupt and two context switches, whatever the thread
/// does with it, so the rate sets the timer's cost to a workload: at 1 kHz
/// it cost a CPU-bound task 19-25 % on a 2-core host (a bare timer of the
/// same rate 18-25 %), at 250 Hz 9-14 % (bare 6-8 %) (`clockstorm bench`,
/// tsc, hpet and acpi_pm; two runs at 1 kHz, one at 250 Hz). The figures it gives do not need more:
/// a wake-up's latency is measured against its own expiry, a freeze of
/// 100 ms or more (RT throttling, a VF reload) holds back 25 expirations or
/// more, and the sampler sees every gap between clock reads at its own
/// resolution.
pub const DEFAULT_TICK_RATE_HZ: u32 = 250;

/// Limits [`ProbeConfig::validate`] enforces, with the reason for each.
pub mod limits {
    /// Above 10 kHz the timer thread's wake-ups alone would take a large share
    /// of a TCG vCPU (~20 µs each), disturbing what it measures.
    pub const MAX_TICK_RATE_HZ: u32 = 10_000;
    /// Windows shorter than 10 ms would flood the data channel.
    pub const MIN_WINDOW_MS: u64 = 10;
    /// Exchanges more often than every 10 ms would keep the channel busy.
    pub const MIN_EXCHANGE_INTERVAL_MS: u64 = 10;
    /// Polling /proc more often than every 10 ms costs more than it tells.
    pub const MIN_POLL_INTERVAL_MS: u64 = 10;
}

/// A [`ProbeConfig`] value out of bounds: which field, and what is allowed.
/// Displays as `field: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    /// The [`ProbeConfig`] field, as serde names it (e.g. `window_ms`).
    pub field: &'static str,
    pub message: String,
}

impl ProbeConfig {
    /// Checks every value; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        let check = |ok: bool, field: &'static str, message: String| if ok { Ok(()) } else { Err(ConfigError { field, message }) };
        check(self.duration_ms > 0, "duration_ms", "must be positive".into())?;
        check(self.window_ms >= MIN_WINDOW_MS, "window_ms", format!("{} is below {MIN_WINDOW_MS}", self.window_ms))?;
        check(
            self.exchange_interval_ms >= MIN_EXCHANGE_INTERVAL_MS,
            "exchange_interval_ms",
            format!("{} is below {MIN_EXCHANGE_INTERVAL_MS}", self.exchange_interval_ms),
        )?;
        check(
            self.tick_rate_hz <= MAX_TICK_RATE_HZ,
            "tick_rate_hz",
            format!("{} is outside 0..={MAX_TICK_RATE_HZ} (0: no periodic timer)", self.tick_rate_hz),
        )?;
        check(self.poll_interval_ms >= MIN_POLL_INTERVAL_MS, "poll_interval_ms", format!("{} is below {MIN_POLL_INTERVAL_MS}", self.poll_interval_ms))?;
        check(!self.clocks.is_empty(), "clocks", "name at least one clock".into())?;
        check(self.initial_sync_exchanges > 0, "initial_sync_exchanges", "must be at least 1".into())?;
        Ok(())
    }
}

/// The data channel's device inside the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DataDevice {
    /// A 16550 UART (QEMU `isa-serial`), e.g. `/dev/ttyS1`: put in raw mode.
    IsaSerial { path: String },
    /// A virtio-serial port, found under `/sys/class/virtio-ports` by name.
    VirtioPort { name: String },
}
