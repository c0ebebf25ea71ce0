use serde::{Deserialize, Serialize};

use super::ClockId;

/// The probe's answer to a host [`crate::HostMessage::Beacon`]: what its
/// threads have done so far, read the moment the beacon arrived. The host
/// paces beacons by its own clock and their arrival wakes the probe's
/// channel thread, so a beacon is answered even when the guest's clocks or
/// timers have stopped: it is the evidence that does not depend on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beacon {
    pub seq: u64,
    /// The vCPU's TSC when answering (raw ticks).
    pub tsc: u64,
    /// Guest CLOCK_MONOTONIC and CLOCK_REALTIME when answering, in ns.
    pub monotonic_ns: u64,
    pub realtime_ns: i64,
    /// Each sampler's progress.
    pub samplers: Vec<SamplerProgress>,
    /// The timer thread's wake-ups so far and CLOCK_MONOTONIC at its last one.
    pub timer_wakeups: u64,
    pub timer_last_wake_ns: u64,
}

/// A sampler's progress, as of its last check (every 1024 reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerProgress {
    pub cpu: u32,
    /// The clock it reads now.
    pub clock: Option<ClockId>,
    /// Reads so far (in the sampler's check blocks).
    pub reads: u64,
    /// Reads since the clock's value last changed, the TSC ticks they took,
    /// and the value they all returned (ns of `clock`). A running clock
    /// changes between any two checks, so these stay 0.
    pub unchanged_reads: u64,
    pub unchanged_tsc_ticks: u64,
    pub value_ns: u64,
}

/// The timer thread (SCHED_FIFO) woke `gap_ns` after its previous wake-up,
/// longer than the gap threshold: it was kept from running (a freeze, or
/// RT throttling: the kernel holding every RT task off the CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimerStall {
    /// CLOCK_MONOTONIC of the wake-up that ended the stall, in ns.
    pub at_ns: u64,
    pub gap_ns: u64,
}
