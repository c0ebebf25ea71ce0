//! A real time service in the guest and a real NTP server on the host
//! (`[guest] time_service`): how long the guest's clock stays wrong after a
//! fault with the service its operator runs, measured by the probe's own
//! exchanges (reports::faults), the service's log shown beside.
//!
//! - [`setting`]: the scenario's key.
//! - [`chrony`]: chronyd on this host, what the guest needs of it, and the
//!   configuration check.
//! - [`ntp`]: the query that tells the server is up.
//!
//! The host's server itself, a process like QEMU, is `backend::time_server`.

pub mod chrony;
pub mod ntp;
mod setting;

/// Where the guest reaches the host's loopback on QEMU's user network.
pub const GUEST_SIDE_ADDRESS: &str = "10.0.2.2";
/// The guest's own address on that network.
pub const GUEST_ADDRESS: &str = "10.0.2.15/24";

use std::path::PathBuf;

pub use setting::{TimeServiceKind, TimeServiceSetting, DEFAULT_SERVER_OPTIONS};

/// Errors setting up a time service. Those about the scenario's
/// configuration are usage errors (exit 2); the rest are the host's (exit 5).
#[derive(Debug, thiserror::Error)]
pub enum TimeServiceError {
    #[error(
        "time_service \"chrony\" needs chronyd, found at none of: {tried}; ci/setup-host.sh unpacks Debian's chrony package into the cache \
         (without installing it), or set $CLOCKSTORM_CHRONYD"
    )]
    NotFound { tried: String },
    #[error("{binary}: cannot be used: {reason}")]
    Unusable { binary: PathBuf, reason: String },
    #[error("{chronyd} has no packaged chrony.conf beside it: give time_service.config or time_service.config_file")]
    NoDefaultConfig { chronyd: PathBuf },
    #[error("chrony rejects the configuration: {message}")]
    Rejected { message: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{what}: {source}")]
    Run { what: String, source: std::io::Error },
    #[error("the host's NTP server (chronyd -x) did not start: {reason}{}", if log.is_empty() { String::new() } else { format!("; its log ends:\n{log}") })]
    ServerFailed { reason: String, log: String },
    #[error("the kernel {kernel} has no usable network modules for the time service: {reason}")]
    NoNetwork { kernel: String, reason: String },
}

impl TimeServiceError {
    /// Whether the scenario, not the host, is at fault.
    pub fn is_bad_user_input(&self) -> bool {
        matches!(self, TimeServiceError::Rejected { .. } | TimeServiceError::NoDefaultConfig { .. } | TimeServiceError::Read { .. })
    }
}
