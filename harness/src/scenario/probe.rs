//! `[probe]`: what the probe measures and how often.

use std::time::Duration;

use clockstorm_protocol::ClockId;
use serde::{Deserialize, Serialize};

use super::duration;

/// What the probe does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSettings {
    /// How long each guest measures.
    #[serde(with = "duration::serde_text")]
    pub duration: Duration,
    /// Length of a summary window.
    #[serde(with = "duration::serde_text")]
    pub window: Duration,
    /// Interval between exchanges with the host reference clock.
    #[serde(with = "duration::serde_text")]
    pub exchange_interval: Duration,
    /// Gaps between clock reads longer than this are reported one by one.
    #[serde(with = "duration::serde_text")]
    pub gap_event_threshold: Duration,
    /// Exchanges at start; the best one steps the guest clock onto host time.
    pub initial_sync_exchanges: u32,
    /// A gap at least this long starts a burst of exchanges.
    #[serde(with = "duration::serde_text")]
    pub burst_after_gap: Duration,
    /// Exchanges in such a burst.
    pub burst_exchanges: u32,
    /// Clocks the samplers rotate through, one per window.
    pub clocks: Vec<ClockId>,
    /// Rate of the probe's periodic timer (tick backlog, wake-up latency).
    pub tick_rate_hz: u32,
    /// Interval of the /proc counter and clocksource polls.
    #[serde(with = "duration::serde_text")]
    pub poll_interval: Duration,
    /// Forward the guest's /dev/kmsg.
    pub forward_kmsg: bool,
    /// A guest clock that has not advanced for this long (host time) is
    /// not coming back: the harness ends the run as "clock stopped".
    #[serde(with = "duration::serde_text")]
    pub clock_stop_limit: Duration,
}

/// Shortest `clock_stop_limit`: the detector needs a second of beacons to
/// call a clock stopped at all (`liveness::STOP_MIN_NS`).
pub const CLOCK_STOP_LIMIT_MIN: Duration = Duration::from_secs(2);

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            duration: Duration::from_secs(10),
            window: Duration::from_millis(100),
            exchange_interval: Duration::from_millis(100),
            gap_event_threshold: Duration::from_millis(10),
            initial_sync_exchanges: 8,
            burst_after_gap: Duration::from_millis(50),
            burst_exchanges: 5,
            clocks: ClockId::ALL.to_vec(),
            tick_rate_hz: 1000,
            poll_interval: Duration::from_millis(100),
            forward_kmsg: true,
            clock_stop_limit: crate::runner::CLOCK_STOP_GIVE_UP,
        }
    }
}

