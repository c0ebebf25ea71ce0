//! Resolving the scenario's kernel names into bootable kernels, each with
//! the data channel it supports.

use std::path::Path;
use std::sync::Arc;

use clockstorm_protocol::{ClockProfile, ClockRule, KernelInfo};

use crate::error::Error;
use crate::kernel::pvh::{self, BootChoice, BootEntry, BootImage};
use crate::kernel::{self, KernelCache, KernelError, KernelImage};
use crate::plan::KernelSetup;
use crate::qemu::args::{DataChannelChoice as DataChannelArg, DataChannelKind};

/// Whether a kernel name (a `guest.kernels` entry or `--kernel`) names a
/// file: it has a '/' or is an existing file. Anything else but "default"
/// names a kernel cache entry. One rule for the scenario and the flag.
pub fn names_a_path(name: &str) -> bool {
    name.contains('/') || Path::new(name).is_file()
}

/// Resolves `name`: "default" by discovery (env, cache, /boot), a path
/// ([`names_a_path`]) as that file, anything else as a cached kernel's name.
/// `flag` is `--kernel`, which replaces every kernel of the scenario (the
/// plan has already made it the only name).
pub fn resolve(name: &str, flag: Option<&Path>, cache: &KernelCache) -> Result<KernelImage, Error> {
    if let Some(path) = flag.filter(|p| names_a_path(&p.to_string_lossy())) {
        return Ok(kernel::discover(Some(path), None, cache, &kernel::host_release(), Path::new("/boot"))?);
    }
    if name == "default" {
        return Ok(kernel::discover(None, std::env::var_os(kernel::ENV_VAR).as_deref(), cache, &kernel::host_release(), Path::new("/boot"))?);
    }
    if names_a_path(name) {
        let image = kernel::discover(Some(Path::new(name)), None, cache, &kernel::host_release(), Path::new("/boot"))
            .map_err(|e| Error::Kernel(KernelError::Selected { origin: format!("guest.kernels entry {name:?}"), source: Box::new(e) }))?;
        return Ok(image);
    }
    Ok(cache.get(name)?.to_image(Path::new("/lib/modules"))?)
}

/// A kernel ready to boot: its image, how it is entered (`boot`; a PVH
/// boot's unpacked kernel is kept in `pvh_cache`) and the data channel it gets.
pub fn setup(
    name: &str,
    image: KernelImage,
    arg: DataChannelArg,
    clock_rule: Option<ClockRule>,
    boot: BootChoice,
    pvh_cache: &Path,
) -> Result<Arc<KernelSetup>, Error> {
    let (data_channel, modules) = choose_data_channel(arg, &image)?;
    let net_modules = network_modules(&image, &modules);
    let boot = pvh::boot_image(boot, &image.path, &image.sha256, pvh_cache).map_err(|reason| KernelError::NoPvhBoot { name: name.to_owned(), reason })?;
    Ok(Arc::new(KernelSetup { name: name.to_owned(), image, boot, data_channel, modules, net_modules, clock_rule }))
}

/// Picks the data channel and reads the modules it needs. Virtio-serial is
/// preferred on the numbers (median exchange round trip under TCG here:
/// 0.62-0.64 ms against 5.6 ms for the ISA UART, ci/bench-data-channel.sh),
/// but it needs the kernel's virtio modules; with `auto`, a kernel without
/// usable ones (none known, or compressed) falls back to the UART.
fn choose_data_channel(arg: DataChannelArg, kernel: &KernelImage) -> Result<(DataChannelKind, Modules), Error> {
    match (arg, &kernel.modules_dir) {
        (DataChannelArg::IsaSerial, _) | (DataChannelArg::Auto, None) => Ok((DataChannelKind::IsaSerial, Vec::new())),
        (DataChannelArg::Auto, Some(dir)) => Ok(match virtio_modules(dir) {
            Ok(m) => (DataChannelKind::Virtio, m),
            Err(_) => (DataChannelKind::IsaSerial, Vec::new()),
        }),
        (DataChannelArg::Virtio, Some(dir)) => Ok((DataChannelKind::Virtio, virtio_modules(dir)?)),
        (DataChannelArg::Virtio, None) => Err(Error::BadFlag {
            flag: "data-channel",
            message: format!("virtio needs the kernel's modules, and none are known for {}: use --data-channel isa-serial", kernel.path.display()),
        }),
    }
}

/// (file name, bytes) of kernel modules, in load order.
pub type Modules = Vec<(String, Vec<u8>)>;

/// The guest network's modules ([`kernel::NETWORK_MODULES`]) not already
/// among the data channel's, or why there are none: a kernel cached before
/// they were kept, or one without known modules.
fn network_modules(image: &KernelImage, data_channel: &Modules) -> Result<Modules, String> {
    let dir = image.modules_dir.as_ref().ok_or_else(|| format!("no modules are known for {}", image.path.display()))?;
    let order = kernel::module_load_order(dir, kernel::NETWORK_MODULES)
        .map_err(|e| format!("{e} (a kernel cached before clockstorm kept the network's modules: fetch it again with `clockstorm kernel fetch`)"))?;
    let loaded = |name: &str| data_channel.iter().any(|(file, _)| file.ends_with(&format!("-{name}.ko")));
    order
        .iter()
        .filter(|m| !loaded(&m.name))
        .enumerate()
        .map(|(i, m)| {
            std::fs::read(&m.path)
                .map(|bytes| (format!("net-{i:02}-{}.ko", m.name), bytes))
                .map_err(|e| format!("reading {}: {e}", m.path.display()))
        })
        .collect()
}

/// Reads the virtio-serial modules (and their dependencies) for the initramfs.
fn virtio_modules(dir: &Path) -> Result<Modules, Error> {
    let order = kernel::module_load_order(dir, kernel::VIRTIO_CONSOLE_MODULES)?;
    order
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let bytes = std::fs::read(&m.path).map_err(|e| KernelError::io(&m.path, e))?;
            Ok((format!("{i:02}-{}.ko", m.name), bytes))
        })
        .collect()
}

/// A kernel the fake backend only names: nothing is read, nothing boots.
pub fn fake_setup(name: &str, profiles: &[(ClockProfile, String)]) -> Arc<KernelSetup> {
    let release = fake_release(name);
    let clock_rule = kernel::profiles::rule_for(profiles, &release, "", true);
    let image = KernelImage { path: name.into(), release, sha256: String::new(), size: 0, origin: kernel::KernelOrigin::Fake, modules_dir: None };
    let boot = BootImage { entry: BootEntry::Bzimage, path: name.into(), note: None };
    Arc::new(KernelSetup {
        name: name.to_owned(),
        boot,
        image,
        data_channel: DataChannelKind::IsaSerial,
        modules: Vec::new(),
        net_modules: Err("a fake kernel".into()),
        clock_rule,
    })
}

/// The release a fake guest's kernel `name` reports.
pub fn fake_release(name: &str) -> String {
    format!("{}-fake", crate::scenario::matrix::kernel_slug(name))
}

/// The manifest's record of a kernel.
pub fn info(k: &KernelSetup) -> KernelInfo {
    KernelInfo {
        name: k.name.clone(),
        path: k.image.path.display().to_string(),
        release: k.image.release.clone(),
        sha256: k.image.sha256.clone(),
        size: k.image.size,
        origin: k.image.origin.to_string(),
        data_channel: serde_json::to_value(k.data_channel).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        boot_entry: match k.image.origin {
            kernel::KernelOrigin::Fake => String::new(),
            _ => k.boot.entry.as_str().to_owned(),
        },
        boot_note: k.boot.note.clone(),
        clock_rule: k.clock_rule.clone(),
    }
}
