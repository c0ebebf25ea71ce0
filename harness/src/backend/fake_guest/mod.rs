//! The fake guest: a real process that stands in for QEMU and the probe
//! together, for testing the pipeline in seconds (`clockstorm run --backend
//! fake`). It speaks the probe's real protocol over the real data channel
//! socket, serves the QMP commands the harness uses on a real QMP socket,
//! prints a console on stdout, and "feels" the host's faults for real: a
//! freeze stops its threads, a vCPU freeze freezes its vCPU threads, a pause
//! parks them, starvation throttles them. What a fault costs the guest's
//! clocks comes from a configurable clock model (docs/clock-model.md,
//! "The fake guest's model"), not from a kernel: its figures test the
//! harness and the reports, they measure nothing.

mod channel;
mod clock;
mod clocksources;
mod console;
mod exchange;
mod guest;
mod hostile;
mod kernel;
mod kmsg;
mod model;
mod pause;
mod poller;
mod qmp_server;
mod run;
mod sampler;
mod timer;
mod vcpu;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

pub use clock::{HostClock, RealHost};
pub use model::{parse_model, ModelOverrides};
pub use run::{run_guest, Options, Outcome};

/// `clockstorm fake-guest` (hidden): started by the fake backend, never by hand.
#[derive(Debug, Clone, clap::Args)]
pub struct FakeGuestArgs {
    /// Unix socket the harness listens on for the data channel; the fake
    /// connects to it, as QEMU does.
    #[arg(long)]
    pub data_socket: PathBuf,
    /// Unix socket the fake serves QMP on (it binds and listens, as QEMU does).
    #[arg(long)]
    pub qmp_socket: PathBuf,
    /// The probe config (JSON), as the real probe reads it from its initramfs.
    #[arg(long)]
    pub config: PathBuf,
    /// Kernel release the fake reports in its hello.
    #[arg(long, default_value = "6.1.0-fake")]
    pub kernel_release: String,
    /// vCPUs (one vCPU thread and one sampler each).
    #[arg(long, default_value_t = 1)]
    pub vcpus: u32,
    /// Clock model overrides, KEY=VALUE[,KEY=VALUE...] (docs/clock-model.md);
    /// empty: the model of the config's clocksource.
    #[arg(long, default_value = "")]
    pub model: String,
}

/// Runs the fake guest as its own process (the `fake-guest` subcommand)
/// until its measurement is done; returns the exit code: 0 after the
/// success sentinel (or QMP `quit`), 1 after the failure sentinel.
pub fn run(args: &FakeGuestArgs) -> u8 {
    // The harness's guard kills the process group and sets the same; a
    // belt in case the fake is started some other way: it never outlives
    // its parent.
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let options = Options { console: Box::new(std::io::stdout()), host: Arc::new(RealHost), own_process: true };
    run_guest(args, options).exit_code()
}
