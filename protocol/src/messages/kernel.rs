use serde::{Deserialize, Serialize};

/// One /dev/kmsg record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelLog {
    pub seq: u64,
    /// The kernel's timestamp (CLOCK_MONOTONIC-based printk time), in µs.
    pub ts_us: u64,
    /// Syslog priority (0 emerg .. 7 debug).
    pub level: u8,
    pub message: String,
    /// Guest CLOCK_REALTIME when the probe's kmsg thread read the line, in
    /// ns: where the line belongs on the host's timeline (through the offset
    /// of the exchanges), whenever the channel delivered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_realtime_ns: Option<i64>,
}

/// The guest's current clocksource changed (polled from sysfs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksourceChange {
    pub mono_ns: u64,
    pub old: String,
    pub new: String,
}

/// Something the host asks the probe to do to the guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Write `name` to current_clocksource.
    SetClocksource { name: String },
    /// Write `name` to unbind_clocksource.
    UnbindClocksource { name: String },
}

/// The outcome of an [`Action`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionResult {
    pub id: u64,
    pub action: Action,
    /// CLOCK_MONOTONIC when done, in ns.
    pub mono_ns: u64,
    /// None on success, else the error.
    pub error: Option<String>,
    /// The current clocksource afterwards.
    pub clocksource_after: String,
}
