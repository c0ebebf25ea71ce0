//! PID 1 duties: mount the basics, run, say how it went, power off.
//!
//! A boring init on purpose: mounts from a table, one final sentinel line on
//! the console, and the guest always powers off (PID 1 must never exit, or
//! the kernel panics).

use clockstorm_protocol::{SENTINEL_FAILURE_PREFIX, SENTINEL_SUCCESS};
use nix::mount::{mount, MsFlags};

/// (source, target, fstype) mounted before anything else.
const MOUNTS: &[(&str, &str, &str)] = &[("proc", "/proc", "proc"), ("sysfs", "/sys", "sysfs"), ("devtmpfs", "/dev", "devtmpfs")];

pub fn main_as_pid1() -> ! {
    let result = mount_basics().and_then(|()| crate::run::run_as_init());
    match result {
        Ok(()) => println!("{SENTINEL_SUCCESS}"),
        Err(e) => println!("{SENTINEL_FAILURE_PREFIX}{e:#}"),
    }
    power_off()
}

fn mount_basics() -> anyhow::Result<()> {
    for (source, target, fstype) in MOUNTS {
        let _ = std::fs::create_dir_all(target);
        match mount(Some(*source), *target, Some(*fstype), MsFlags::empty(), None::<&str>) {
            // devtmpfs may already be mounted by the kernel (CONFIG_DEVTMPFS_MOUNT).
            Ok(()) | Err(nix::errno::Errno::EBUSY) => {}
            Err(e) => return Err(anyhow::anyhow!("mounting {fstype} on {target}: {e}")),
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
