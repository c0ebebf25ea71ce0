//! The guest's virtual timer hardware (the scenario's `[guest.timers]`),
//! which decides part of QEMU's command line.

use serde::{Deserialize, Serialize};

/// `[guest.timers]`: the virtual timer hardware.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimerHardware {
    /// Emulate an HPET (without it the guest has no `hpet` clocksource).
    pub hpet: bool,
    /// RTC base: "utc" or "localtime".
    pub rtc_base: RtcBase,
    /// RTC drift fix: "none" or "slew" (re-inject lost RTC interrupts).
    pub rtc_driftfix: RtcDriftfix,
    /// KVM's in-kernel PIT lost-tick policy: "delay" or "discard" (KVM only).
    pub pit_lost_tick_policy: Option<PitPolicy>,
    /// Offer kvm-clock to the guest (KVM only).
    pub kvmclock: bool,
    /// Advertise an invariant TSC (`+invtsc`).
    pub invtsc: bool,
    /// Set the guest's TSC frequency in Hz (KVM only).
    pub tsc_frequency_hz: Option<u64>,
}

impl Default for TimerHardware {
    fn default() -> Self {
        TimerHardware {
            hpet: true,
            rtc_base: RtcBase::Utc,
            rtc_driftfix: RtcDriftfix::None,
            pit_lost_tick_policy: None,
            kvmclock: true,
            invtsc: false,
            tsc_frequency_hz: None,
        }
    }
}

/// `-rtc base=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtcBase {
    Utc,
    Localtime,
}

/// `-rtc driftfix=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RtcDriftfix {
    None,
    Slew,
}

/// `-global kvm-pit.lost_tick_policy=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PitPolicy {
    Delay,
    Discard,
}
