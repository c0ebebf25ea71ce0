//! clockstorm's guest probe.
//!
//! Inside a clockstorm guest it is `/init` (PID 1): it mounts the basics,
//! reads its config from the initramfs, talks to the harness over the data
//! channel, measures, prints one sentinel line on the console and powers the
//! guest off. Elsewhere, `guest-probe --standalone` runs the same
//! measurement on the machine it is started on.

mod actions;
mod bench;
mod channel;
mod clocks;
mod counters;
mod exchange;
mod init;
mod kmsg;
mod link;
mod modules;
mod net;
mod outbox;
mod procfs;
mod ptp;
mod run;
mod sampler;
mod sched;
mod shm_reference;
mod standalone;
mod sysinfo;
mod ticks;
mod time_service;

use std::process::ExitCode;

fn main() -> ExitCode {
    run::mark(&run::PROBE_STARTED_NS);
    if std::process::id() == 1 {
        init::main_as_pid1()
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match standalone::main(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guest-probe: {e:#}");
            ExitCode::from(2)
        }
    }
}
