//! PID 1 duties: mount the basics, load the data channel's modules, run,
//! say how it went, power off.
//!
//! A boring init on purpose: mounts from a table, one final sentinel line on
//! the console, and the guest always powers off (PID 1 must never exit, or
//! the kernel panics).

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{GuestMessage, ProbeConfig, CONFIG_PATH_IN_GUEST, PROTOCOL_VERSION, SENTINEL_FAILURE_PREFIX, SENTINEL_SUCCESS};
use nix::mount::{mount, MsFlags};

use crate::channel::Channel;
use crate::link::Link;

/// (source, target, fstype) mounted before anything else.
const MOUNTS: &[(&str, &str, &str)] = &[("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs")];

pub fn main_as_pid1() -> ! {
    match mount_basics().map(|()| crate::run::note_jiffies()).and_then(|()| run_as_init()) {
        Ok(()) => println!("{SENTINEL_SUCCESS}"),
        Err(e) => println!("{SENTINEL_FAILURE_PREFIX}{e:#}"),
    }
    power_off()
}

fn run_as_init() -> Result<()> {
    let config = read_config()?;
    crate::modules::load(&config.modules)?;
    crate::run::mark(&crate::run::MODULES_LOADED_NS);
    let mut ch = Channel::open(&config.data_device)?;
    crate::run::mark(&crate::run::CHANNEL_OPEN_NS);
    let result = crate::run::measure(&config, &mut ch);
    if let Err(e) = &result {
        let _ = Link::send(&mut ch, &GuestMessage::Failure { message: format!("{e:#}") });
    }
    Link::flush(&mut ch);
    result
}

fn read_config() -> Result<ProbeConfig> {
    let text = std::fs::read_to_string(CONFIG_PATH_IN_GUEST).with_context(|| format!("reading {CONFIG_PATH_IN_GUEST}"))?;
    let config: ProbeConfig = serde_json::from_str(&text).with_context(|| format!("parsing {CONFIG_PATH_IN_GUEST}"))?;
    if config.protocol_version != PROTOCOL_VERSION {
        bail!("config is for protocol version {}, this probe speaks {PROTOCOL_VERSION}", config.protocol_version);
    }
    Ok(config)
}

fn mount_basics() -> Result<()> {
    for (source, target, fstype) in MOUNTS {
        let _ = std::fs::create_dir_all(target);
        match mount(Some(*source), *target, Some(*fstype), MsFlags::empty(), None::<&str>) {
            // devtmpfs may already be mounted by the kernel (CONFIG_DEVTMPFS_MOUNT).
            Ok(()) | Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => bail!("mounting {fstype} on {target}: {e}"),
        }
    }
    Ok(())
}

fn power_off() -> ! {
    nix::unistd::sync();
    let err = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    // Only reached if the reboot syscall failed; PID 1 must not return.
    println!("{SENTINEL_FAILURE_PREFIX}power off failed: {err:?}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
