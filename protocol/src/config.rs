use serde::{Deserialize, Serialize};

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
    /// The device node of the data channel inside the guest.
    pub data_device: DataDevice,
    /// Kernel modules to load before opening the data channel, in order
    /// (paths inside the initramfs).
    pub modules: Vec<String>,
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
