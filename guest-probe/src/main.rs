//! clockstorm's guest probe.
//!
//! Inside a clockstorm guest it is `/init` (PID 1): it mounts the basics,
//! reads its config from the initramfs, talks to the harness over the data
//! channel, measures, prints one sentinel line on the console and powers the
//! guest off. See `run::run_as_init`.

mod channel;
mod clocks;
mod exchange;
mod init;
mod run;
mod sampler;
mod sysinfo;

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::process::id() == 1 {
        init::main_as_pid1()
    }
    eprintln!(
        "guest-probe runs as /init inside a guest booted by `clockstorm run`; \
         it was started as PID {} and has nothing to do (standalone mode is not built yet)",
        std::process::id()
    );
    ExitCode::from(2)
}
