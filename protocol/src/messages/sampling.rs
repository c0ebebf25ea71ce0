use serde::{Deserialize, Serialize};

/// The POSIX clocks the samplers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockId {
    Monotonic,
    MonotonicRaw,
    Realtime,
}

impl ClockId {
    pub const ALL: [ClockId; 3] = [ClockId::Monotonic, ClockId::MonotonicRaw, ClockId::Realtime];
}

/// Cost of one read of each clock, from a calibration loop before sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadCost {
    /// (clock, ns per clock_gettime) for every sampled clock.
    pub clocks: Vec<(ClockId, f64)>,
    pub rdtsc_ns: f64,
    /// How many reads each figure averages.
    pub reads: u64,
}

impl ReadCost {
    /// ns per read of `clock`, if measured.
    pub fn of(&self, clock: ClockId) -> Option<f64> {
        self.clocks.iter().find(|(c, _)| *c == clock).map(|(_, ns)| *ns)
    }
}

/// Percentiles of the intervals between consecutive reads in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaStats {
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

/// Summary of one sampling window of one vCPU's tight read loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Window number of this sampler.
    pub index: u64,
    /// The vCPU the sampler is pinned to.
    pub cpu: u32,
    /// The clock this window read (samplers rotate through the clocks).
    pub clock: Option<ClockId>,
    /// CLOCK_MONOTONIC at the start and end of the window, in ns.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Clock reads in the window.
    pub samples: u64,
    /// Intervals between consecutive reads (the histogram's percentiles).
    pub delta: DeltaStats,
    /// Longest interval between consecutive reads (= delta.max_ns), and the
    /// CLOCK_MONOTONIC time at which it ended.
    pub max_gap_ns: u64,
    pub max_gap_at_ns: u64,
    /// Reads at which the clock went backwards, and the largest step back.
    pub backwards_steps: u64,
    pub worst_backwards_ns: u64,
    /// TSC reads (one per bracket), backwards TSC steps among them.
    pub tsc_reads: u64,
    pub tsc_backwards_steps: u64,
    /// TSC ticks and clock ns elapsed between the first and last bracket:
    /// their ratio is the TSC rate against this clock.
    pub tsc_ticks: u64,
    pub clock_elapsed_ns: u64,
    /// Cross-vCPU checks where this vCPU read a value older than one another
    /// vCPU had already read (time went backwards between CPUs).
    pub warps: u64,
    pub worst_warp_ns: u64,
    /// Messages the samplers dropped so far (full queue).
    pub dropped_so_far: u64,
}

/// A gap longer than the threshold, sent the moment it is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    pub cpu: u32,
    /// CLOCK_MONOTONIC at the read that ended the gap, in ns.
    pub at_ns: u64,
    pub gap_ns: u64,
}

/// The in-guest benchmark: the physical limit (a bare read loop) against the
/// probe's sampler in the same guest, and what the probe costs a CPU-bound
/// task, in all and part by part. Every phase runs for `phase_ms` on vCPU 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BenchResult {
    pub phase_ms: u64,
    /// Bare `clock_gettime(CLOCK_MONOTONIC)` loop, reads per second.
    pub raw_reads_per_s: f64,
    /// The probe's sampler loop on the same clock, reads per second.
    pub sampler_reads_per_s: f64,
    /// The two loops alternate in slices, bare loop first and last (so a
    /// drift of the guest's speed cancels when each sampler slice is
    /// compared with the bare slices on either side of it): reads per
    /// second of each bare slice, then of each sampler slice. Empty from
    /// probes before them.
    #[serde(default)]
    pub bare_slices: Vec<f64>,
    #[serde(default)]
    pub sampler_slices: Vec<f64>,
    /// A CPU-bound task (integer hashing) alone, operations per second.
    pub task_ops_per_s_alone: f64,
    /// The same task while the probe's timer, exchanges, poller and kmsg
    /// threads run (not its samplers, which by design take a whole vCPU),
    /// in rounds alternating with the task alone (the `all` part).
    pub task_ops_per_s_with_probe: f64,
    /// The same task beside one part of the probe at a time (the channel
    /// loop forwarding that part's messages runs in each): what the cost is
    /// made of. Empty from probes before it.
    #[serde(default)]
    pub task_ops_per_s_with_part: Vec<BenchPart>,
}

/// The task's rate beside one part of the probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BenchPart {
    /// `timer` (the periodic timer thread at the run's rate), `bare timer`
    /// (a timer at the same rate and priority that does nothing on its
    /// wake-ups: the floor for `timer`), `poller` (the
    /// /proc counters and clocksource polls), `kmsg` (the kernel-log
    /// reader), `exchanges` (the host-reference exchanges, over shared
    /// memory where the run has it and the data channel), `channel` (the
    /// channel loop alone: forwarding, beacons).
    pub part: String,
    /// The task alone and beside the part, in alternating half-phase
    /// rounds (so each part has its own drift-cancelled baseline).
    pub task_ops_per_s_alone: f64,
    pub task_ops_per_s: f64,
}
