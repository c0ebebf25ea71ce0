//! The hostile modes (`--fake-model garbage=N,long-line=BYTES,flood=N`): a
//! guest that, on top of measuring as usual, sends its data channel what a
//! broken or malicious probe could: lines that are no message, a line of
//! megabytes, a flood of valid messages it has no reason to send. They test
//! that the harness stays in bounded memory, names what happened and keeps
//! the run's other measurements.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{GuestMessage, KernelLog};

use super::guest::{Guest, Phase};
use super::model::Hostile;

/// How long after measuring began the hostility starts: windows, exchanges
/// and timer windows are flowing by then.
const START_AFTER: Duration = Duration::from_millis(500);
/// Between two garbage lines: they come spread among real messages.
const GARBAGE_EVERY: Duration = Duration::from_millis(20);
/// The long line is written in 64 KiB chunks spread over about this long,
/// whatever its length: a line that goes on for a while, in a test's time.
const LONG_LINE_TIME: Duration = Duration::from_millis(500);

/// Starts the hostile thread, when the model asks for hostility.
pub fn spawn(guest: Arc<Guest>, hostile: Hostile) -> Option<std::io::Result<JoinHandle<()>>> {
    if hostile == Hostile::default() {
        return None;
    }
    Some(std::thread::Builder::new().name("fake-hostile".into()).spawn(move || {
        if !guest.sleep(START_AFTER) || guest.phase() != Phase::Measuring {
            return;
        }
        let _ = run(&guest, hostile);
    }))
}

/// Each mode in turn; None once the channel failed or the guest shut down.
fn run(guest: &Guest, hostile: Hostile) -> Option<()> {
    if let Some(n) = hostile.garbage {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..n {
            guest.on_vcpu0().then_some(())?;
            guest.send_raw(&garbage_line(i, &mut rng)).then_some(())?;
            guest.sleep(GARBAGE_EVERY).then_some(())?;
        }
    }
    if let Some(len) = hostile.long_line {
        guest.on_vcpu0().then_some(())?;
        let chunks = len.div_ceil(64 << 10).max(1) as u32;
        guest.send_long_line(len, LONG_LINE_TIME / chunks).then_some(())?;
    }
    if let Some(n) = hostile.flood {
        for i in 0..n {
            // As fast as the channel takes them: only a shutdown stops it.
            if guest.is_shut_down() {
                return None;
            }
            let log = KernelLog { seq: u64::MAX - i, ts_us: 1, level: 7, message: format!("clockstorm-fake: flood {i}"), read_realtime_ns: None };
            guest.send(&GuestMessage::KernelLog(log)).then_some(())?;
        }
    }
    Some(())
}

/// The `i`th garbage line, its newline included: in turn random bytes
/// (not UTF-8, NULs), text that is no JSON, JSON of no known type, and a
/// known type with a field it does not have.
fn garbage_line(i: u64, rng: &mut u64) -> Vec<u8> {
    let mut line = match i % 4 {
        0 => (0..48)
            .map(|_| {
                // xorshift64: fixed bytes, every run the same.
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                match (*rng >> 24) as u8 {
                    b'\n' => 0xff,
                    b => b,
                }
            })
            .collect(),
        1 => b"clockstorm-fake: this is no json".to_vec(),
        2 => br#"{"type":"no_such_message","seq":1}"#.to_vec(),
        _ => br#"{"type":"ping","seq":1,"t1_ns":2,"unknown_field":3}"#.to_vec(),
    };
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_lines_are_single_lines_and_never_messages() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..40 {
            let line = garbage_line(i, &mut rng);
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1, "{line:?}");
            assert_eq!(line.last(), Some(&b'\n'));
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            assert!(clockstorm_protocol::decode_guest(&text).is_err(), "{text}");
        }
    }
}
