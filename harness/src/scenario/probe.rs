//! `[probe]`: what the probe measures and how often.

use std::time::Duration;

use clockstorm_protocol::{ClockId, DataDevice, ProbeConfig, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};

use crate::duration;

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
    /// Rate of the probe's periodic timer (tick backlog, wake-up latency);
    /// 0 turns it off: under TCG its wake-ups are most of what the probe
    /// costs a workload beside it (`clockstorm bench`).
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
    /// Exchange over the shared-memory reference (an ivshmem device) beside
    /// the data channel, and take its offsets (QEMU only); false: the data
    /// channel alone, as before it existed.
    pub shm_reference: bool,
}

/// A clock that has not advanced for this long (host time, from the value it
/// did not get past) is not coming back within the run: the harness ends the
/// run and names it. A clock that waits for its counter to pass an old value
/// again waits at most half a wrap (acpi_pm 2.3 s, hpet 21.5 s), so one that
/// recovers does so well within this. The default of `clock_stop_limit`.
pub const CLOCK_STOP_GIVE_UP: Duration = Duration::from_secs(30);

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
            tick_rate_hz: clockstorm_protocol::DEFAULT_TICK_RATE_HZ,
            poll_interval: Duration::from_millis(100),
            forward_kmsg: true,
            clock_stop_limit: CLOCK_STOP_GIVE_UP,
            shm_reference: true,
        }
    }
}

impl ProbeSettings {
    /// The probe's config for a run with these settings. Pure.
    pub fn probe_config(&self, run_id: &str, clocksource: Option<&str>, data_device: DataDevice, modules: Vec<String>) -> ProbeConfig {
        ProbeConfig {
            protocol_version: PROTOCOL_VERSION,
            run_id: run_id.to_owned(),
            expected_clocksource: clocksource.map(str::to_owned),
            duration_ms: self.duration.as_millis() as u64,
            window_ms: self.window.as_millis() as u64,
            exchange_interval_ms: self.exchange_interval.as_millis() as u64,
            initial_sync_exchanges: self.initial_sync_exchanges,
            gap_event_threshold_ns: self.gap_event_threshold.as_nanos() as u64,
            burst_after_gap_ns: self.burst_after_gap.as_nanos() as u64,
            burst_exchanges: self.burst_exchanges,
            clocks: self.clocks.clone(),
            tick_rate_hz: self.tick_rate_hz,
            poll_interval_ms: self.poll_interval.as_millis() as u64,
            forward_kmsg: self.forward_kmsg,
            benchmark_phase_ms: None,
            data_device,
            modules,
            time_service: None,
            shm_reference: false,
        }
    }
}
