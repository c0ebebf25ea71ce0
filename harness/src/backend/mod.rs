//! The VM backend seam: what the run pipeline needs from "a guest" and
//! nothing more. A backend turns one run into a command line; the pipeline
//! (runner) starts that process under its guard, listens on the data channel
//! socket, connects to QMP, reads the console, applies faults and records,
//! the same way whichever backend made the command.
//!
//! - [`qemu::QemuBackend`]: a real QEMU guest booting a real kernel with the
//!   probe as `/init`.
//! - [`fake::FakeBackend`]: the fake guest process ([`fake_guest`]), for
//!   testing the pipeline in seconds.

pub mod fake;
pub mod fake_guest;
pub mod process;
pub mod qemu;
pub mod shm_reference;
pub mod time_server;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clockstorm_protocol::ProbeConfig;

use crate::initramfs::InitramfsError;
pub use crate::plan::BackendKind;
use crate::plan::RunSpec;

/// One guest to start, as the pipeline hands it to a backend.
pub struct GuestLaunch<'a> {
    pub spec: &'a RunSpec,
    /// The probe's config for this run.
    pub probe_config: &'a ProbeConfig,
    /// Private temp dir of this run (sockets, config files).
    pub private_dir: &'a Path,
    /// Where the pipeline listens for the data channel (the guest connects).
    pub data_socket: &'a Path,
    /// Where the guest serves QMP (the pipeline connects).
    pub qmp_socket: &'a Path,
    /// The host's NTP server's loopback port, when the run has a time service.
    pub time_server_port: Option<u16>,
    /// The shared-memory reference's backing file, when the run has one.
    pub shm_reference: Option<&'a Path>,
}

/// The process that is the guest.
#[derive(Debug, Clone)]
pub struct VmCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl VmCommand {
    /// The whole command line, for the record.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }
}

/// A backend could not prepare a guest.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Initramfs(#[from] InitramfsError),
    #[error("the time service: {0}")]
    TimeService(String),
}

/// A way to run guests.
pub trait VmBackend: Sync {
    fn kind(&self) -> BackendKind;
    /// How long a guest may take from start to the probe's hello.
    fn hello_timeout(&self) -> Duration;
    /// The command that starts the guest of `launch`.
    fn command(&self, launch: &GuestLaunch<'_>) -> Result<VmCommand, BackendError>;
    /// Why a guest that never said hello did not, in words that help.
    fn no_hello_message(&self, timeout: Duration) -> String {
        format!("the guest did not say hello within {timeout:?}")
    }
}
