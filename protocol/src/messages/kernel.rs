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
