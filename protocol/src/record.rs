//! The on-disk record of a run: one JSON object per line in
//! `runs/<run-id>/records.jsonl`, appended and flushed as things happen so a
//! crash keeps everything measured up to it.

use serde::{Deserialize, Serialize};

use crate::GuestMessage;

/// Version of the on-disk record format.
pub const RECORD_FORMAT_VERSION: u32 = 1;

/// One line of a run's record file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// Host CLOCK_REALTIME when the harness wrote the record, ns since the epoch.
    pub host_realtime_ns: i64,
    /// Host CLOCK_MONOTONIC when the harness wrote the record, in ns.
    pub host_monotonic_ns: u64,
    #[serde(flatten)]
    pub body: RecordBody,
}

/// Who the record comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordBody {
    /// A message the probe sent, as received.
    Guest(GuestMessage),
    /// Something the harness did or saw.
    Harness(HarnessEvent),
}

/// What the harness records about a run besides the probe's messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
pub enum HarnessEvent {
    /// First line of every record file.
    RunStarted {
        record_format_version: u32,
        run_id: String,
        clocksource: String,
        accel: String,
        qemu_argv: Vec<String>,
    },
    QemuSpawned { pid: u32 },
    /// A line on the data channel that did not decode; kept verbatim.
    Garbled { line: String, error: String },
    /// The probe printed its success sentinel on the console.
    SentinelSeen,
    QemuExited { code: Option<i32>, signal: Option<i32> },
    /// Last line of every complete record file.
    RunFinished(RunOutcome),
}

/// How a run ended, from the harness's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunOutcome {
    /// Booted, measured for the whole duration, powered off.
    Completed { wall_ms: u64, requested_ms: u64 },
    /// The kernel used another clocksource than requested; nothing measured.
    ClocksourceNotHonored { requested: String, got: String },
    /// Not run, and why (e.g. kvm-clock under TCG).
    Skipped { reason: String },
    /// The guest or QEMU failed; `console_tail` holds the last console lines.
    Failed { reason: String, console_tail: Vec<String> },
    /// Stopped by Ctrl-C; what was measured up to then is kept.
    Interrupted,
}

impl RunOutcome {
    /// A short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            RunOutcome::Completed { .. } => "completed",
            RunOutcome::ClocksourceNotHonored { .. } => "not honored",
            RunOutcome::Skipped { .. } => "skipped",
            RunOutcome::Failed { .. } => "failed",
            RunOutcome::Interrupted => "interrupted",
        }
    }
}
