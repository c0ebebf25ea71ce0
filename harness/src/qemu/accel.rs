//! Choosing between KVM and TCG.
//!
//! `/dev/kvm` existing is not enough: on some hosts it is backed by a module
//! (e.g. kvm_pvm) that opens fine but cannot boot an ordinary guest. `auto`
//! therefore also wants vmx or svm in /proc/cpuinfo, and a KVM guest that
//! does not say hello in time gets an error that suggests `--accel tcg`.

/// What QEMU will run with (defined in the protocol crate: the records and
/// the manifest name it).
pub use clockstorm_protocol::Accel;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelChoice {
    Auto,
    Kvm,
    Tcg,
}

/// The CPU model that fits: the host's own under KVM, everything TCG can
/// emulate under TCG (the default qemu64 lacks rdtscp and invariant TSC).
pub fn default_cpu_model(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "host",
        Accel::Tcg | Accel::Standalone => "max",
    }
}

/// What the host offers, read by [`probe_host`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostVirt {
    /// /dev/kvm opened read-write.
    pub dev_kvm_usable: bool,
    /// vmx or svm among the CPU flags.
    pub cpu_has_virt: bool,
}

/// Decides the accelerator. Pure, so every combination is tested.
pub fn resolve(choice: AccelChoice, host: HostVirt) -> Accel {
    match choice {
        AccelChoice::Kvm => Accel::Kvm,
        AccelChoice::Tcg => Accel::Tcg,
        AccelChoice::Auto if host.dev_kvm_usable && host.cpu_has_virt => Accel::Kvm,
        AccelChoice::Auto => Accel::Tcg,
    }
}

/// Reads what the host offers.
pub fn probe_host() -> HostVirt {
    let dev_kvm_usable = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    HostVirt { dev_kvm_usable, cpu_has_virt: cpuinfo_has_virt(&cpuinfo) }
}

/// True when the flags line of /proc/cpuinfo names vmx or svm.
pub fn cpuinfo_has_virt(cpuinfo: &str) -> bool {
    cpuinfo.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_needs_both_a_usable_dev_kvm_and_cpu_virtualization() {
        let h = |dev, cpu| HostVirt { dev_kvm_usable: dev, cpu_has_virt: cpu };
        assert_eq!(resolve(AccelChoice::Auto, h(true, true)), Accel::Kvm);
        assert_eq!(resolve(AccelChoice::Auto, h(true, false)), Accel::Tcg); // kvm_pvm-style /dev/kvm
        assert_eq!(resolve(AccelChoice::Auto, h(false, true)), Accel::Tcg);
        assert_eq!(resolve(AccelChoice::Kvm, h(false, false)), Accel::Kvm);
        assert_eq!(resolve(AccelChoice::Tcg, h(true, true)), Accel::Tcg);
    }

    #[test]
    fn cpu_flags_are_read_from_the_flags_line_only() {
        assert!(cpuinfo_has_virt("flags\t: fpu vmx sse\n"));
        assert!(cpuinfo_has_virt("flags\t: svm\n"));
        assert!(!cpuinfo_has_virt("model name\t: vmx-like cpu\nflags\t: fpu sse hypervisor\n"));
    }
}
