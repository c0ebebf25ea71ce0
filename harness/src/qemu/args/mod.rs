//! QEMU's command line, built by small pure functions so each piece is
//! unit-tested and the whole line is logged and recorded.

use std::ffi::OsString;
use std::path::PathBuf;

use super::accel::Accel;
use super::timers::{PitPolicy, RtcBase, RtcDriftfix, TimerHardware};

/// Name of the virtio-serial port the probe looks for in sysfs.
pub const VIRTIO_PORT_NAME: &str = "org.clockstorm.data";

/// `--data-channel`: which data channel the user wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataChannelChoice {
    /// Virtio-serial when the kernel's virtio modules are known, else the ISA UART.
    Auto,
    IsaSerial,
    Virtio,
}

/// How the probe's data channel reaches the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataChannelKind {
    /// A second 16550 UART (`ttyS1`): built into every x86 kernel.
    IsaSerial,
    /// A virtio-serial port: needs the virtio modules in the initramfs.
    Virtio,
}

/// Everything that decides one QEMU command line.
#[derive(Debug, Clone)]
pub struct QemuSpec {
    pub binary: PathBuf,
    pub name: String,
    pub accel: Accel,
    /// `-machine` value, from [`machine_arg`].
    pub machine: String,
    /// `-cpu` value, from [`cpu_arg`].
    pub cpu: String,
    /// Extra timer arguments, from [`timer_args`].
    pub timer_args: Vec<String>,
    pub vcpus: u32,
    pub memory_mib: u32,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub append: String,
    pub data_channel: DataChannelKind,
    /// Unix socket the harness listens on; QEMU connects to it as a client.
    pub data_socket: PathBuf,
    /// Unix socket QEMU serves QMP on.
    pub qmp_socket: PathBuf,
    /// A user-mode network (no root, no host interface) with a virtio-net
    /// card, on which the guest reaches the host's loopback as 10.0.2.2
    /// (the time service's NTP server).
    pub user_network: bool,
    /// The shared-memory reference's backing file (an `ivshmem-plain`
    /// device on a shared `memory-backend-file`), when the run has one.
    pub shm_reference: Option<std::path::PathBuf>,
}

/// The kernel command line: console on the first UART, a panic that ends
/// QEMU at once (`panic=-1` reboots, `-no-reboot` turns that into exit), no
/// crypto self-tests, the clocksource under test, then the scenario's own
/// parameters, which come last so they can override ours (a later
/// `cryptomgr.notests=0` runs the tests again).
///
/// The crypto self-tests were the longest initcall under TCG
/// (`crypto_algapi_init` 305 ms, `load_system_certificate_list` 76 ms of
/// 1.19 s of initcalls, `initcall_debug`, 6.1); without them the kernel
/// reached /init 0.3-0.5 s sooner (hpet, three boots each: 1.74-2.03 s
/// against 2.09-2.73 s). Nothing the probe measures uses the kernel's
/// crypto; on tsc the gain mostly goes to waiting for the refined TSC
/// calibration, which comes a second after the tsc driver starts.
pub fn kernel_cmdline(clocksource: Option<&str>, extra: &[String]) -> String {
    let mut parts = vec!["console=ttyS0".to_string(), "panic=-1".to_string(), "cryptomgr.notests".to_string()];
    if let Some(cs) = clocksource {
        parts.push(format!("clocksource={cs}"));
    }
    parts.extend(extra.iter().cloned());
    parts.join(" ")
}

/// `-machine`: the type, the accelerator, and the HPET switch.
pub fn machine_arg(machine: &str, accel: Accel, timers: &TimerHardware) -> String {
    let hpet = if timers.hpet { "on" } else { "off" };
    format!("{machine},accel={},hpet={hpet}", accel.qemu_name())
}

/// `-cpu`: the model ("auto": `max` under TCG, `host` under KVM) and the
/// TSC-related flags. kvm-clock and the TSC frequency only exist under KVM.
pub fn cpu_arg(model: &str, accel: Accel, timers: &TimerHardware) -> String {
    let mut cpu = if model == "auto" { super::accel::default_cpu_model(accel).to_owned() } else { model.to_owned() };
    if timers.invtsc {
        cpu.push_str(",+invtsc");
    }
    if accel == Accel::Kvm {
        if !timers.kvmclock {
            cpu.push_str(",-kvmclock,-kvmclock-stable-bit");
        }
        if let Some(hz) = timers.tsc_frequency_hz {
            cpu.push_str(&format!(",tsc-frequency={hz}"));
        }
    }
    cpu
}

/// The RTC (`-rtc base=...,driftfix=...`) and, under KVM, the in-kernel
/// PIT's lost-tick policy.
pub fn timer_args(accel: Accel, timers: &TimerHardware) -> Vec<String> {
    let base = match timers.rtc_base {
        RtcBase::Utc => "utc",
        RtcBase::Localtime => "localtime",
    };
    let driftfix = match timers.rtc_driftfix {
        RtcDriftfix::None => "none",
        RtcDriftfix::Slew => "slew",
    };
    let mut args = vec!["-rtc".to_owned(), format!("base={base},driftfix={driftfix}")];
    if let (Accel::Kvm, Some(policy)) = (accel, timers.pit_lost_tick_policy) {
        let policy = match policy {
            PitPolicy::Delay => "delay",
            PitPolicy::Discard => "discard",
        };
        args.extend(["-global".to_owned(), format!("kvm-pit.lost_tick_policy={policy}")]);
    }
    args
}

/// The full argument vector (without the binary).
pub fn build_args(spec: &QemuSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&["-name", &format!("{},debug-threads=on", spec.name)]);
    push(&["-machine", &spec.machine]);
    push(&["-cpu", &spec.cpu]);
    push(&["-smp", &spec.vcpus.to_string(), "-m", &spec.memory_mib.to_string()]);
    push(&["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"]);
    // The console goes to QEMU's stdout, which the harness reads line by line.
    push(&["-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console"]);
    args.extend(spec.timer_args.iter().map(OsString::from));
    args.extend(data_channel_args(spec));
    if spec.user_network {
        push_net(&mut args);
    }
    if let Some(path) = &spec.shm_reference {
        args.push("-object".into());
        let size = clockstorm_protocol::shm::SHM_BYTES;
        args.push(socket_arg(&format!("memory-backend-file,id=clockstorm-ref,share=on,size={size},mem-path="), path, ""));
        args.extend(["-device".into(), format!("ivshmem-plain,memdev=clockstorm-ref,id={SHM_DEVICE_ID}").into()]);
    }
    args.push("-qmp".into());
    args.push(socket_arg("unix:", &spec.qmp_socket, ",server=on,wait=off"));
    args.extend(["-kernel".into(), spec.kernel.clone().into_os_string()]);
    args.extend(["-initrd".into(), spec.initrd.clone().into_os_string()]);
    args.extend(["-append".into(), OsString::from(&spec.append)]);
    args
}

/// QEMU's user-mode network ("slirp"): outbound only, nothing listens on
/// the host; `restrict=off` because the guest must reach the host's loopback.
/// The ivshmem device's QEMU id.
pub const SHM_DEVICE_ID: &str = "clockstorm-ref-dev";

fn push_net(args: &mut Vec<OsString>) {
    args.extend(
        ["-netdev", "user,id=clockstorm-net,restrict=off", "-device", "virtio-net-pci,netdev=clockstorm-net"]
            .iter()
            .map(OsString::from),
    );
}

fn data_channel_args(spec: &QemuSpec) -> Vec<OsString> {
    let mut args = vec!["-chardev".into(), socket_arg("socket,id=data,path=", &spec.data_socket, "")];
    match spec.data_channel {
        DataChannelKind::IsaSerial => args.extend(["-serial".into(), "chardev:data".into()]),
        DataChannelKind::Virtio => {
            args.extend(["-device".into(), "virtio-serial-pci,id=clockstorm-vser".into()]);
            args.extend(["-device".into(), format!("virtserialport,chardev=data,name={VIRTIO_PORT_NAME}").into()]);
        }
    }
    args
}

/// `prefix + path + suffix` as an OsString, without assuming the path is UTF-8.
fn socket_arg(prefix: &str, path: &std::path::Path, suffix: &str) -> OsString {
    let mut s = OsString::from(prefix);
    s.push(path.as_os_str());
    s.push(suffix);
    s
}

#[cfg(test)]
mod tests;
