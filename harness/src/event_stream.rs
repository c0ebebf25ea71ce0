//! The one event stream of a run: what the reader threads (data channel,
//! console) and the fault timeline thread tell the run loop, each with the
//! host clocks at the moment it was seen.

use clockstorm_protocol::GuestMessage;

/// Host clocks at the moment something was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStamp {
    pub realtime_ns: i64,
    pub monotonic_ns: u64,
}

impl HostStamp {
    pub fn now() -> HostStamp {
        HostStamp { realtime_ns: clock_ns(libc::CLOCK_REALTIME), monotonic_ns: clock_ns(libc::CLOCK_MONOTONIC) as u64 }
    }
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::from_raw(clock)).expect("POSIX clocks are always readable");
    ts.tv_sec() * 1_000_000_000 + ts.tv_nsec()
}

/// One thing a reader thread saw.
#[derive(Debug)]
pub enum Event {
    Guest(HostStamp, GuestMessage),
    /// A data-channel line that did not decode.
    Garbled {
        stamp: HostStamp,
        line: String,
        error: String,
    },
    /// The probe speaks another protocol version, or did not start with Hello.
    Protocol(String),
    /// The data channel closed (QEMU exited or closed the socket).
    DataClosed,
    /// The console reached its end (QEMU exited): everything it printed was read.
    ConsoleClosed,
    Console(ConsoleSignal),
    /// Something the harness's own threads (the fault timeline) want recorded.
    Harness(clockstorm_protocol::HarnessEvent),
    /// An event of the data channel holding its share of the channel's
    /// bounded backlog; the share is given back once it was dispatched.
    Data(crate::backlog::Credit, Box<Event>),
    /// Writing a results file failed (the console log): the run must end.
    WriteFailed {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

/// What the console reader recognizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleSignal {
    /// The probe's success sentinel.
    Success,
    /// The probe's failure sentinel, with its reason.
    ProbeFailure(String),
    /// A `Kernel panic - not syncing` line.
    KernelPanic(String),
}

/// Classifies one console line. Pure.
pub fn classify_console_line(line: &str) -> Option<ConsoleSignal> {
    use clockstorm_protocol::{SENTINEL_FAILURE_PREFIX, SENTINEL_SUCCESS};
    if line.contains(SENTINEL_SUCCESS) {
        return Some(ConsoleSignal::Success);
    }
    if let Some(i) = line.find(SENTINEL_FAILURE_PREFIX) {
        return Some(ConsoleSignal::ProbeFailure(line[i + SENTINEL_FAILURE_PREFIX.len()..].trim().to_owned()));
    }
    if let Some(i) = line.find("Kernel panic - not syncing") {
        return Some(ConsoleSignal::KernelPanic(line[i..].trim().to_owned()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_classified() {
        assert_eq!(classify_console_line("clockstorm-probe: done: success"), Some(ConsoleSignal::Success));
        assert_eq!(
            classify_console_line("[    1.2] clockstorm-probe: done: failure: opening /dev/ttyS1: EIO"),
            Some(ConsoleSignal::ProbeFailure("opening /dev/ttyS1: EIO".into()))
        );
        assert_eq!(
            classify_console_line("[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs"),
            Some(ConsoleSignal::KernelPanic("Kernel panic - not syncing: VFS: Unable to mount root fs".into()))
        );
        assert_eq!(classify_console_line("[    0.1] clocksource: Switched to clocksource hpet"), None);
    }
}
