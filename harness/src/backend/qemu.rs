//! The QEMU backend: a real guest, booting a real kernel with the probe as
//! `/init` in an initramfs built (and cached) per run configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{BackendError, BackendKind, GuestLaunch, VmBackend, VmCommand};
use crate::initramfs::{self, Contents};
use crate::qemu::accel::Accel;
use crate::qemu::args::{build_args, cpu_arg, kernel_cmdline, machine_arg, timer_args, DataChannelKind, QemuSpec};
use crate::time_service::chrony::{self, ChronyInstall};
use crate::time_service::GUEST_SIDE_ADDRESS;

/// Boot to the probe's hello under TCG: ~1.5 s on an idle 2-core machine;
/// the margin covers a loaded CI host emulating a slow boot.
pub const HELLO_TIMEOUT_TCG: Duration = Duration::from_secs(60);
/// Boot to hello under KVM takes well under a second. A KVM guest that is
/// silent this long is most likely on a /dev/kvm that cannot run it.
pub const HELLO_TIMEOUT_KVM: Duration = Duration::from_secs(20);

pub struct QemuBackend {
    pub qemu: PathBuf,
    pub accel: Accel,
    /// The static probe binary's bytes (it becomes `/init`).
    pub probe: Vec<u8>,
    pub initramfs_cache: PathBuf,
    /// chronyd, when a run has a time service.
    pub chrony: Option<std::sync::Arc<ChronyInstall>>,
}

impl VmBackend for QemuBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Qemu
    }

    fn hello_timeout(&self) -> Duration {
        match self.accel {
            Accel::Kvm => HELLO_TIMEOUT_KVM,
            // Standalone never reaches a QEMU backend (nothing resolves to it).
            Accel::Tcg | Accel::Standalone => HELLO_TIMEOUT_TCG,
        }
    }

    fn command(&self, launch: &GuestLaunch<'_>) -> Result<VmCommand, BackendError> {
        let spec = launch.spec;
        let initrd = self.build_initramfs(launch)?;
        let mut params = spec.guest.kernel_params.clone();
        if let Some(port) = launch.time_server_port {
            params.insert(0, format!("{}={GUEST_SIDE_ADDRESS}:{port}", clockstorm_protocol::TIME_SERVER_CMDLINE_KEY));
        }
        let qemu_spec = QemuSpec {
            binary: self.qemu.clone(),
            name: format!("clockstorm-{}", spec.id),
            accel: self.accel,
            machine: machine_arg(&spec.guest.machine, self.accel, &spec.guest.timers),
            cpu: cpu_arg(&spec.guest.cpu_model, self.accel, &spec.guest.timers),
            timer_args: timer_args(self.accel, &spec.guest.timers),
            vcpus: spec.guest.vcpus,
            memory_mib: spec.guest.memory_mib,
            kernel: spec.kernel.boot.path.clone(),
            initrd,
            append: kernel_cmdline(Some(spec.clocksource.kernel_name()), &params),
            data_channel: spec.kernel.data_channel,
            data_socket: launch.data_socket.to_owned(),
            qmp_socket: launch.qmp_socket.to_owned(),
            user_network: launch.time_server_port.is_some(),
            shm_reference: launch.shm_reference.map(Path::to_path_buf),
        };
        Ok(VmCommand { program: self.qemu.clone(), args: build_args(&qemu_spec) })
    }

    fn no_hello_message(&self, timeout: Duration) -> String {
        match self.accel {
            Accel::Kvm => format!(
                "the guest did not say hello within {timeout:?} under KVM; /dev/kvm may not be able to run guests here \
                 (e.g. a nested or paravirtual KVM): try --accel tcg"
            ),
            Accel::Tcg | Accel::Standalone => format!("the guest did not say hello within {timeout:?}"),
        }
    }
}

impl QemuBackend {
    fn build_initramfs(&self, launch: &GuestLaunch<'_>) -> Result<PathBuf, BackendError> {
        let config_json = serde_json::to_vec_pretty(launch.probe_config).expect("config always serializes");
        let kernel = &launch.spec.kernel;
        let modules: &[(String, Vec<u8>)] = if kernel.data_channel == DataChannelKind::Virtio { &kernel.modules } else { &[] };
        let mut all_modules = modules.to_vec();
        let extra = self.time_service_entries(launch, &mut all_modules)?;
        let contents = Contents { probe: &self.probe, config_json: &config_json, modules: &all_modules, extra: &extra };
        Ok(initramfs::build_cached(&self.initramfs_cache, &contents)?)
    }

    /// chronyd, its libraries and configuration, and the network's modules
    /// (added to `modules`), when the run has a time service.
    fn time_service_entries(&self, launch: &GuestLaunch<'_>, modules: &mut Vec<(String, Vec<u8>)>) -> Result<Vec<initramfs::Entry>, BackendError> {
        let setting = &launch.spec.guest.time_service;
        let (true, Some(install)) = (setting.enabled(), &self.chrony) else { return Ok(Vec::new()) };
        let as_backend = |e: crate::time_service::TimeServiceError| BackendError::TimeService(e.to_string());
        if let Ok(net) = &launch.spec.kernel.net_modules {
            modules.extend(net.iter().cloned());
        }
        let config = chrony::guest_config(install, setting.config.as_deref(), &setting.directives).map_err(as_backend)?;
        chrony::guest_entries(install, &config).map_err(as_backend)
    }
}
