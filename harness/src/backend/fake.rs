//! The fake backend: each guest is a `clockstorm fake-guest` process
//! ([`super::fake_guest`]) instead of QEMU. Everything else in the pipeline
//! is the real thing: its guard, the data channel socket, QMP, the console,
//! the faults on its threads, the records and the reports.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{BackendError, BackendKind, GuestLaunch, VmBackend, VmCommand};

/// The fake guest starts in milliseconds; this only covers a loaded host.
pub const FAKE_HELLO_TIMEOUT: Duration = Duration::from_secs(20);

pub struct FakeBackend {
    /// The clockstorm binary (it has the hidden `fake-guest` subcommand).
    pub exe: PathBuf,
    /// Clock model overrides for every guest (`--fake-model`).
    pub model: String,
}

impl VmBackend for FakeBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Fake
    }

    fn hello_timeout(&self) -> Duration {
        FAKE_HELLO_TIMEOUT
    }

    fn command(&self, launch: &GuestLaunch<'_>) -> Result<VmCommand, BackendError> {
        let config = launch.private_dir.join("probe-config.json");
        let json = serde_json::to_vec_pretty(launch.probe_config).expect("config always serializes");
        std::fs::write(&config, json).map_err(|source| BackendError::Io { what: format!("writing {}", config.display()), source })?;
        let spec = launch.spec;
        let mut args: Vec<OsString> = vec!["fake-guest".into()];
        let mut flag = |name: &str, value: OsString| {
            args.push(name.into());
            args.push(value);
        };
        flag("--data-socket", launch.data_socket.into());
        flag("--qmp-socket", launch.qmp_socket.into());
        flag("--config", config.into());
        flag("--kernel-release", spec.kernel.image.release.clone().into());
        flag("--vcpus", spec.guest.vcpus.to_string().into());
        if !self.model.is_empty() {
            flag("--model", self.model.clone().into());
        }
        Ok(VmCommand { program: self.exe.clone(), args })
    }
}
