//! Loading kernel modules from the initramfs (the data channel's, the network's).

use anyhow::{Context, Result};

/// Loads each module file in order; one already loaded is fine.
pub fn load(modules: &[String]) -> Result<()> {
    for path in modules {
        let file = std::fs::File::open(path).with_context(|| format!("opening module {path}"))?;
        // SAFETY: finit_module reads the module from a valid open fd; the params string is a valid empty C string.
        let rc = unsafe { libc::syscall(libc::SYS_finit_module, std::os::fd::AsRawFd::as_raw_fd(&file), c"".as_ptr(), 0) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(err).with_context(|| format!("loading module {path}"));
            }
        }
    }
    Ok(())
}
