//! Every host resource a plan needs, resolved in one place and in an order
//! that keeps bad input a usage error: the kernels (a file named by the user
//! that is not a kernel is bad input), then QEMU and the probe binary.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::kernels;
use crate::backend::fake::FakeBackend;
use crate::backend::qemu::QemuBackend;
use crate::backend::VmBackend;
use crate::error::Error;
use crate::kernel::{profiles, KernelCache};
use crate::plan::{BackendKind, HostRequest, KernelSetup};
use crate::probe_binary;
use crate::qemu::accel::{self, Accel};
use crate::time_service::chrony::{self, ChronyInstall};
use crate::time_service::{TimeServiceError, TimeServiceSetting};

/// What the host gives a plan.
pub struct HostResources {
    pub backend: Box<dyn VmBackend>,
    pub accel: Accel,
    /// Every kernel of the plan, by the scenario's name for it.
    pub kernels: BTreeMap<String, Arc<KernelSetup>>,
    /// The QEMU binary (None with the fake backend).
    pub qemu: Option<PathBuf>,
    /// chronyd, when a run has a time service.
    pub chrony: Option<Arc<ChronyInstall>>,
}

/// Resolves `req` on this host.
pub fn resolve(req: &HostRequest) -> Result<HostResources, Error> {
    let accel = accel::resolve(req.accel, accel::probe_host());
    match req.backend {
        BackendKind::Fake => {
            // A fake kernel finds a profile the fake backend measured of it.
            let profiles = KernelCache::default_location().map(|c| profiles::all(&c)).unwrap_or_default();
            let kernels = req.kernels.iter().map(|name| (name.clone(), kernels::fake_setup(name, &profiles))).collect();
            let exe = std::env::current_exe().map_err(|e| Error::FakeGuestMissing { reason: e.to_string() })?;
            let backend = FakeBackend { exe, model: req.fake_model.clone() };
            Ok(HostResources { backend: Box::new(backend), accel, kernels, qemu: None, chrony: None })
        }
        BackendKind::Qemu => {
            let cache = KernelCache::default_location()?;
            let profiles = profiles::all(&cache);
            let mut kernels = BTreeMap::new();
            let pvh_cache = cache.root().parent().map(|p| p.join("pvh")).unwrap_or_default();
            for name in &req.kernels {
                let image = kernels::resolve(name, req.kernel.as_deref(), &cache)?;
                let rule = profiles::rule_for(&profiles, &image.release, &image.sha256, false);
                kernels.insert(name.clone(), kernels::setup(name, image, req.data_channel, rule, req.boot, &pvh_cache)?);
            }
            let qemu = super::find_qemu(req.qemu.as_deref())?;
            let probe_path = probe_binary::locate(
                req.probe.as_deref(),
                std::env::var_os(probe_binary::ENV_VAR).as_deref(),
                &std::env::current_exe().unwrap_or_default(),
            )?;
            let probe = probe_binary::load(&probe_path)?;
            let initramfs_cache = cache.root().parent().map(|p| p.join("initramfs")).unwrap_or_default();
            let chrony = time_service(&req.time_services, &kernels, cache.root().parent())?.map(Arc::new);
            let backend = QemuBackend { qemu: qemu.clone(), accel, probe, initramfs_cache, chrony: chrony.clone() };
            Ok(HostResources { backend: Box::new(backend), accel, kernels, qemu: Some(qemu), chrony })
        }
    }
}

/// chronyd when a run has a time service: found, every configuration the
/// runs use accepted by chrony itself, every kernel able to bring up the
/// guest network. Before any guest boots, so a bad configuration costs no run.
fn time_service(
    settings: &[TimeServiceSetting],
    kernels: &BTreeMap<String, Arc<KernelSetup>>,
    cache_root: Option<&std::path::Path>,
) -> Result<Option<ChronyInstall>, Error> {
    if settings.is_empty() {
        return Ok(None);
    }
    let install = chrony::locate(std::env::var_os(chrony::ENV_VAR).as_deref(), cache_root)?;
    let scratch = tempfile::Builder::new()
        .prefix("clockstorm-chrony-check-")
        .tempdir()
        .map_err(|source| TimeServiceError::Run { what: "creating a private temp dir".into(), source })?;
    for s in settings {
        let text = chrony::guest_config(&install, s.config.as_deref(), &s.directives)?;
        chrony::check_config(&install, &text, scratch.path()).map_err(|e| match e {
            TimeServiceError::Rejected { message } => TimeServiceError::Rejected { message: format!("{} ({message})", s.describe()) },
            other => other,
        })?;
    }
    for k in kernels.values() {
        if let Err(reason) = &k.net_modules {
            return Err(TimeServiceError::NoNetwork { kernel: k.name.clone(), reason: reason.clone() }.into());
        }
    }
    Ok(Some(install))
}
