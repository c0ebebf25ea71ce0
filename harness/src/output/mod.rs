//! What clockstorm says on stderr while it works, at the verbosity the
//! user chose (`-q`, `-v`): warnings, notes, and a run's progress
//! ([`progress`]: pure lines from events; [`sink`]: where they go, live on
//! a terminal, plain lines elsewhere). Errors are printed by
//! `commands::main_with`, whatever the verbosity; the final report goes to
//! stdout.

pub mod progress;
pub mod sink;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much clockstorm says on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and warnings only (the final report still goes to
    /// stdout). Warnings stay: each says something that changes how the
    /// result reads (timing disturbed, a guardian gone, mixed builds).
    Quiet = 0,
    /// Progress: a line per guest started, per fault, per guest finished.
    Normal = 1,
    /// `-v`: also each phase (booted, synced, tearing down) and details.
    Verbose = 2,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Sets the verbosity for the rest of the process (`main_with` does, from `-q`/`-v`).
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

/// The verbosity in force.
pub fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// The verbosity `-q` and `-v` (counted) ask for. Pure.
pub fn verbosity_of(quiet: bool, verbose: u8) -> Verbosity {
    match (quiet, verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// `clockstorm: warning: …` on stderr, at every verbosity.
pub fn warn(message: &str) {
    sink::clear_live();
    eprintln!("clockstorm: warning: {message}");
}

/// `clockstorm: …` on stderr, unless `-q`.
pub fn note(message: &str) {
    if verbosity() >= Verbosity::Normal {
        sink::clear_live();
        eprintln!("clockstorm: {message}");
    }
}

/// `clockstorm: …` on stderr, with `-v` only.
pub fn detail(message: &str) {
    if verbosity() >= Verbosity::Verbose {
        sink::clear_live();
        eprintln!("clockstorm: {message}");
    }
}

/// Whether progress may redraw a live status on stderr: stderr is a
/// terminal and `TERM` is not `dumb`. Anything else (a pipe, a file, CI
/// logs) gets plain lines, one per event, no carriage returns, no ANSI.
pub fn stderr_is_live() -> bool {
    std::io::stderr().is_terminal() && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_and_verbose_counts() {
        assert_eq!(verbosity_of(false, 0), Verbosity::Normal);
        assert_eq!(verbosity_of(true, 0), Verbosity::Quiet);
        assert_eq!(verbosity_of(false, 2), Verbosity::Verbose);
        assert!(Verbosity::Quiet < Verbosity::Normal && Verbosity::Normal < Verbosity::Verbose);
    }
}
