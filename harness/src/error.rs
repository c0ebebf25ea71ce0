//! The harness's top-level error: each variant knows its exit code.

use std::path::PathBuf;

use crate::exit_code;
use crate::kernel::KernelError;
use crate::runner::RunError;
use crate::scenario::ScenarioError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("--clocksource: {0}")]
    Clocksource(#[from] crate::clocksource::UnknownClocksource),
    #[error(transparent)]
    Fault(#[from] crate::faults::spec::FaultParseError),
    #[error("--{flag}: {message}")]
    BadFlag { flag: &'static str, message: String },
    /// A results directory the user named (`report DIR`, `merge SHARDS...`).
    #[error("results directory {path}: {message}")]
    BadResultsDir { path: PathBuf, message: String },
    /// A positional argument, by the name the usage line gives it (`FILE`).
    #[error("{what}: {message}")]
    BadArgument { what: &'static str, message: String },
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("QEMU not found: {tried} is not an executable file (install it with `apt-get install qemu-system-x86`, or run ci/setup-host.sh)")]
    QemuMissing { tried: String },
    #[error("guest probe binary not found (looked at {looked}); build it with `ci/build.sh` or point CLOCKSTORM_PROBE at it")]
    ProbeMissing { looked: String },
    #[error("guest probe {path} is dynamically linked: it must be static to run as /init (build it with `ci/build.sh`)")]
    ProbeNotStatic { path: PathBuf },
    #[error("output directory {path} is not writable: {source}")]
    OutputNotWritable { path: PathBuf, source: std::io::Error },
    #[error("installing the Ctrl-C handler: {0}")]
    Signals(std::io::Error),
    #[error("starting the guardian (`clockstorm guardian`, which undoes the run's faults if the harness is killed): {0}")]
    Guardian(std::io::Error),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{origin}: kernel file {} does not exist", path.display())]
    KernelPathMissing { origin: String, path: PathBuf },
    #[error("the fake backend runs this binary as its guest, and it cannot be found: {reason}")]
    FakeGuestMissing { reason: String },
    #[error(transparent)]
    Write(#[from] crate::results::WriteError),
    #[error(transparent)]
    TimeService(#[from] crate::time_service::TimeServiceError),
}

impl Error {
    /// The documented exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Clocksource(_) | Error::Fault(_) | Error::BadFlag { .. } => exit_code::USAGE,
            Error::BadResultsDir { .. } | Error::BadArgument { .. } => exit_code::USAGE,
            Error::Kernel(k) if k.is_bad_user_input() => exit_code::USAGE,
            Error::Kernel(_) => exit_code::ENVIRONMENT,
            Error::QemuMissing { .. } | Error::ProbeMissing { .. } | Error::ProbeNotStatic { .. } => exit_code::ENVIRONMENT,
            Error::OutputNotWritable { .. } | Error::Signals(_) | Error::Guardian(_) | Error::Run(_) => exit_code::ENVIRONMENT,
            Error::KernelPathMissing { .. } => exit_code::USAGE,
            Error::FakeGuestMissing { .. } | Error::Write(_) => exit_code::ENVIRONMENT,
            Error::TimeService(t) if t.is_bad_user_input() => exit_code::USAGE,
            Error::TimeService(_) => exit_code::ENVIRONMENT,
        }
    }
}
