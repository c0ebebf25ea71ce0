//! The guest console: what QEMU would copy from the guest's serial port to
//! its stdout. Kernel lines carry printk's `[seconds.micros]` stamp; the
//! probe's sentinel lines are printed bare, as the probe prints them.
//! Every line is flushed at once (the harness reads the console line by
//! line, and a crash must not lose the last ones); a console nobody reads
//! any more is not an error: the line is dropped.

use std::io::Write;
use std::sync::Mutex;

use clockstorm_protocol::{SENTINEL_FAILURE_PREFIX, SENTINEL_SUCCESS};

pub struct Console {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    pub fn new(out: Box<dyn Write + Send>) -> Console {
        Console { out: Mutex::new(out) }
    }

    /// One line, as it is.
    pub fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }

    /// A kernel line printed at guest CLOCK_MONOTONIC `ts_us`.
    pub fn kernel(&self, ts_us: u64, message: &str) {
        self.line(&kernel_line(ts_us, message));
    }

    pub fn success(&self) {
        self.line(SENTINEL_SUCCESS);
    }

    pub fn failure(&self, reason: &str) {
        // One line whatever the reason holds: the harness reads the rest of it as the reason.
        self.line(&format!("{SENTINEL_FAILURE_PREFIX}{}", reason.replace('\n', " ")));
    }
}

/// printk's console format: `[    1.234567] message`.
pub fn kernel_line(ts_us: u64, message: &str) -> String {
    format!("[{:5}.{:06}] {message}", ts_us / 1_000_000, ts_us % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_carry_printk_stamps() {
        assert_eq!(kernel_line(0, "Linux version x"), "[    0.000000] Linux version x");
        assert_eq!(kernel_line(12_345_678, "m"), "[   12.345678] m");
    }
}
