//! `[guest]`: the virtual machine, its kernels and its timer hardware.

use serde::{Deserialize, Serialize};

pub use crate::qemu::timers::{PitPolicy, RtcBase, RtcDriftfix, TimerHardware};

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
    /// The time service the guest runs (`"none"`: nothing corrects its clock).
    #[serde(skip_serializing_if = "crate::time_service::TimeServiceSetting::is_default")]
    pub time_service: crate::time_service::TimeServiceSetting,
    /// How the kernel is entered: its PVH entry where it has one (`auto`),
    /// only that (`pvh`), or the bzImage through the firmware and the
    /// kernel's decompressor (`bzimage`); see kernel/pvh.rs.
    #[serde(skip_serializing_if = "crate::kernel::pvh::BootChoice::is_default")]
    pub boot: crate::kernel::pvh::BootChoice,
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
            time_service: Default::default(),
            boot: Default::default(),
        }
    }
}
