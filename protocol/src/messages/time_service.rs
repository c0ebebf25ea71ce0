use serde::{Deserialize, Serialize};

/// One line a time service in the guest (chronyd) wrote to its log, with
/// the guest's clocks when the probe read it. The service's own claims
/// ("System clock wrong by ...") are shown beside what the probe measured,
/// never instead of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLog {
    /// The service, e.g. `chrony`.
    pub service: String,
    pub line: String,
    /// Guest CLOCK_REALTIME when the probe read the line, in ns.
    pub read_realtime_ns: i64,
    /// Guest CLOCK_MONOTONIC when the probe read the line, in ns.
    pub read_monotonic_ns: u64,
}
