//! CPU throttling counters, unified across cgroup v1 and v2.

use std::path::Path;

use super::error::CgroupError;

/// Throttling counters of a CPU-limited cgroup, in nanoseconds on both versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThrottleStats {
    /// Enforcement periods that elapsed while a thread was runnable (`nr_periods`).
    pub nr_periods: u64,
    /// Periods in which the quota ran out (`nr_throttled`).
    pub nr_throttled: u64,
    /// Total time threads were held back: v1 `throttled_time` (ns) or
    /// v2 `throttled_usec` × 1000.
    pub throttled_ns: u64,
}

/// Parse a `cpu.stat` file; `time_key` is the throttled-time field and
/// `to_ns` multiplies it to nanoseconds.
pub(crate) fn parse_cpu_stat(path: &Path, content: &str, time_key: &str, to_ns: u64) -> Result<ThrottleStats, CgroupError> {
    let field = |key: &str| -> Result<u64, CgroupError> {
        content
            .lines()
            .filter_map(|l| l.split_once(' '))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.trim().parse().ok())
            .ok_or_else(|| CgroupError::Parse { path: path.to_path_buf(), detail: format!("no numeric {key} line"), content: content.to_string() })
    };
    Ok(ThrottleStats { nr_periods: field("nr_periods")?, nr_throttled: field("nr_throttled")?, throttled_ns: field(time_key)?.saturating_mul(to_ns) })
}
