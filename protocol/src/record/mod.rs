//! The on-disk record of a run: one JSON object per line in
//! `runs/<run-id>/records.jsonl`, appended and flushed as things happen so a
//! crash keeps everything measured up to it.

use serde::{Deserialize, Serialize};

use crate::{Accel, Clocksource, FaultKindName, GuestMessage};

/// Version of the on-disk record format.
pub const RECORD_FORMAT_VERSION: u32 = 1;

mod channel;
mod fast;
mod read;

pub use channel::{escape_bytes, ChannelHealth, FLOOD_MESSAGES_PER_S};

impl RunRecord {
    /// One line of a record file (without its newline): the canonical lines
    /// of windows, timer windows, counters and exchanges by a fast path,
    /// anything else by serde (see `fast`).
    pub fn from_line(line: &[u8]) -> Result<RunRecord, serde_json::Error> {
        match fast::parse(line) {
            Some(record) => Ok(record),
            None => serde_json::from_slice(line),
        }
    }

    /// The fast path alone: the record if `line` is a window, exchange,
    /// timer window or counter read in the exact form serde_json writes it,
    /// None otherwise. Public for the fuzz targets (`fuzz/`), which check it
    /// against serde; readers use [`RunRecord::from_line`].
    pub fn from_canonical_line(line: &[u8]) -> Option<RunRecord> {
        fast::parse(line)
    }
}

/// One line of a run's record file. Deserialization is hand-written (see
/// `read`): the derived one for a flattened, internally tagged body buffers
/// every line twice, and reports read millions of lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        clocksource: Clocksource,
        accel: Accel,
        qemu_argv: Vec<String>,
    },
    QemuSpawned {
        pid: u32,
    },
    /// QMP answered: QEMU's version and its vCPU threads (index, host thread id).
    QemuReady {
        qemu_version: String,
        vcpu_threads: Vec<(u32, u32)>,
    },
    /// A line on the data channel that did not decode; kept verbatim.
    Garbled {
        line: String,
        error: String,
    },
    /// The probe printed its success sentinel on the console.
    SentinelSeen,
    QemuExited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// Measurement began (the probe's sync arrived): fault times count from here.
    TimelineOrigin,
    /// An in-guest action was sent to the probe (its result comes as an
    /// action_result message).
    ActionSent {
        id: u64,
        action: crate::Action,
    },
    /// A fault is about to be applied.
    FaultStarted {
        index: usize,
        kind: FaultKindName,
        planned_start_ms: u64,
        planned_duration_ms: u64,
    },
    /// A fault was lifted, with what it achieved.
    FaultEnded(FaultEffect),
    /// The data channel closed: what its reader skipped, discarded and waited for.
    ChannelHealth(ChannelHealth),
    /// Last line of every complete record file.
    RunFinished(RunOutcome),
    /// Second line of a record file `clockstorm import-standalone` made from
    /// a `guest-probe --standalone` output: no harness stamped these lines
    /// as they arrived, so their host times are estimates (see `host_times`)
    /// and `host_monotonic_ns` is 0 (unknown). Readers leave out the figures
    /// that need arrival times (wall time, overhead, boot to hello).
    Imported {
        /// The probe output the records come from.
        probe_output: String,
        /// How `host_realtime_ns` was obtained, in words.
        host_times: String,
    },
}

/// What one fault did, as measured on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEffect {
    pub index: usize,
    pub kind: FaultKindName,
    /// Host CLOCK_REALTIME / CLOCK_MONOTONIC when the fault took effect and
    /// when it was lifted, in ns.
    pub began_realtime_ns: i64,
    pub began_monotonic_ns: u64,
    pub ended_realtime_ns: i64,
    pub ended_monotonic_ns: u64,
    /// How long the fault was in effect (e.g. the threads were frozen), in ns.
    pub achieved_ns: u64,
    /// None when the fault could not even be set up (see `error`).
    pub detail: Option<FaultDetail>,
    /// Set when applying or lifting the fault failed.
    pub error: Option<String>,
}

/// Kind-specific measurements of a fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum FaultDetail {
    /// State letter of the QEMU process in /proc once stopped ('T' expected).
    Freeze { stopped_state: Option<char> },
    /// QEMU's own STOP / RESUME event times (host realtime, µs).
    Pause { stop_event_us: Option<i64>, resume_event_us: Option<i64> },
    /// The frozen vCPU threads and the /proc state each showed while frozen.
    VcpuFreeze { threads: Vec<u32>, states: Vec<String>, cgroup: String },
    /// Per vCPU thread: time run and time waiting for a CPU during the fault
    /// (/proc/<tid>/schedstat deltas), and the quota's throttled time.
    Starve { threads: Vec<ThreadSched>, busy_threads: u32, throttled_ns: Option<u64> },
    /// The command's exit status and the end of its output.
    Command { argv: Vec<String>, exit_code: Option<i32>, stdout_tail: String, stderr_tail: String },
}

/// Scheduler statistics of one thread over a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ThreadSched {
    pub tid: u32,
    pub run_ns: u64,
    pub wait_ns: u64,
}

/// How a run ended, from the harness's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The guest kernel stopped keeping time: a clock returned the same
    /// value for `stopped_ms` of host time while the TSC ran on, and had not
    /// recovered when the harness ended the run. A finding about the guest,
    /// not a failure of the run: everything measured is kept and analysed.
    ClockStopped {
        /// The clock that stopped (e.g. `monotonic`).
        clock: String,
        /// Host time it had stood still when the run was ended, in ms.
        stopped_ms: u64,
        /// What showed it, in words (reads, TSC ticks, beacons).
        evidence: String,
        wall_ms: u64,
        requested_ms: u64,
    },
    /// No message from any probe thread (not even an answer to the host's
    /// beacons, which need no guest timer) for `silent_ms` outside faults:
    /// the guest hung. What each probe thread did last is in `last_seen`;
    /// everything measured up to then is kept and analysed.
    Silent { silent_ms: u64, last_seen: Vec<ThreadSeen>, console_tail: Vec<String> },
}

/// The last message from one of the probe's threads before a guest went silent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ThreadSeen {
    /// `channel`, `sampler-<cpu>`, `timer`, `poller` or `kmsg`.
    pub thread: String,
    /// Host ms between its last message and the end of the run; None: never heard from.
    pub ago_ms: Option<u64>,
    /// What that message was (its type).
    pub last: Option<String>,
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
            RunOutcome::ClockStopped { .. } => "clock stopped",
            RunOutcome::Silent { .. } => "silent",
        }
    }
}
