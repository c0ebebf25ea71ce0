//! `[guest]`: the virtual machine, its kernels and its timer hardware.

use serde::{Deserialize, Serialize};

/// The virtual machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuestSettings {
    /// Kernels to compare: names of cached kernels (`clockstorm kernel list`),
    /// paths to a bzImage, or "default" (discovery: --kernel,
    /// $CLOCKSTORM_KERNEL, the cache's default, /boot).
    pub kernels: Vec<String>,
    pub vcpus: u32,
    pub memory_mib: u32,
    /// Extra kernel parameters, appended after clockstorm's own.
    pub kernel_params: Vec<String>,
    /// QEMU machine type.
    pub machine: String,
    /// QEMU CPU model; "auto" is `max` under TCG and `host` under KVM.
    pub cpu_model: String,
    pub timers: TimerHardware,
}

impl Default for GuestSettings {
    fn default() -> Self {
        GuestSettings {
            kernels: vec!["default".into()],
            vcpus: 1,
            memory_mib: 256,
            kernel_params: Vec::new(),
            machine: "q35".into(),
            cpu_model: "auto".into(),
            timers: TimerHardware::default(),
        }
    }
}

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
