use serde::{Deserialize, Serialize};

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
    /// Part of a burst the probe started right after a gap, to measure the
    /// step across a fault tightly.
    #[serde(default)]
    pub burst: bool,
    /// Made over the shared-memory reference (ivshmem) rather than the data
    /// channel: the same three timestamps, a much shorter round trip.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared_memory: bool,
}

impl Exchange {
    /// Builds an exchange from its three timestamps.
    pub fn from_timestamps(seq: u64, t1_ns: i64, t2_ns: i64, t3_ns: i64) -> Self {
        // Halve before adding: realtime stamps near 1.7e18 ns would overflow i64 when summed.
        let midpoint = t1_ns / 2 + t3_ns / 2 + (t1_ns % 2 + t3_ns % 2) / 2;
        Exchange { seq, t1_ns, t2_ns, t3_ns, offset_ns: t2_ns - midpoint, uncertainty_ns: (t3_ns - t1_ns) / 2, burst: false, shared_memory: false }
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

/// One reading of the KVM PTP clock against the guest's CLOCK_REALTIME.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtpReading {
    /// CLOCK_MONOTONIC of the guest when read, in ns.
    pub mono_ns: u64,
    /// PTP (host) time minus guest CLOCK_REALTIME, in ns.
    pub offset_ns: i64,
    pub uncertainty_ns: i64,
    /// PTP_SYS_OFFSET_PRECISE (true) or PTP_SYS_OFFSET (false).
    pub precise: bool,
}
