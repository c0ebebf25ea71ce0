//! The guest console: QEMU's stdout, copied line by line into the run's
//! `console.log` (flushed per line, so a crash keeps it), with the last lines
//! kept for error messages and sentinels/panics signalled to the run loop.
//! Lines are read in bounded memory, as the data channel's are.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::line_reader::{BoundedLines, Line};
use crate::event_stream::{classify_console_line, Event};

/// The longest console line kept (a kernel line is at most 1 KiB); a longer
/// one is logged by its start and the rest discarded, so a guest that never
/// ends a line cannot grow the harness.
pub const CONSOLE_LINE_CAP: usize = 64 << 10;
/// Console lines kept for the error message of a failed run.
pub const CONSOLE_TAIL_LINES: usize = 25;

/// The last console lines, shared with the run loop.
#[derive(Clone, Default)]
pub struct ConsoleTail(Arc<Mutex<VecDeque<String>>>);

impl ConsoleTail {
    fn push(&self, line: String) {
        let mut tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == CONSOLE_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    /// A copy of the kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}

/// Starts the console thread; it ends at EOF, when QEMU exits.
/// A log write that fails (a full disk) is told to the run loop once, which
/// ends the run; the console is still read (QEMU must not block on it) and
/// watched for the sentinel, only no longer logged.
pub fn spawn_reader(
    console: impl Read + Send + 'static,
    log: File,
    log_path: PathBuf,
    tail: ConsoleTail,
    events: Sender<Event>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("clockstorm-console".into()).spawn(move || {
        let mut lines = BoundedLines::new(console, CONSOLE_LINE_CAP);
        let mut log = Some(log);
        while let Some(Ok(line)) = lines.next_line() {
            let (bytes, logged) = match line {
                Line::Complete(bytes) => (bytes, None),
                Line::Overlong { len, head } => {
                    (head, Some(format!("… [a line of {len} bytes, over the {CONSOLE_LINE_CAP}-byte cap: the rest discarded]")))
                }
            };
            if let Some(file) = log.as_mut() {
                let written = file.write_all(bytes).and_then(|()| file.write_all(logged.as_deref().unwrap_or("").as_bytes()));
                if let Err(error) = written.and_then(|()| file.write_all(b"\n")).and_then(|()| file.flush()) {
                    log = None;
                    let _ = events.send(Event::WriteFailed { path: log_path.clone(), error });
                }
            }
            let line = String::from_utf8_lossy(bytes).trim_end_matches('\r').to_owned();
            if let Some(signal) = classify_console_line(&line) {
                let _ = events.send(Event::Console(signal));
            }
            tail.push(line);
        }
        let _ = events.send(Event::ConsoleClosed);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_console_line_is_logged_by_its_start_and_the_sentinel_after_it_still_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut input = b"boot\n".to_vec();
        input.extend(std::iter::repeat_n(b'z', CONSOLE_LINE_CAP * 4));
        input.extend(format!("\n{}\n", clockstorm_protocol::SENTINEL_SUCCESS).as_bytes());
        let (tx, rx) = std::sync::mpsc::channel();
        let tail = ConsoleTail::default();
        let log = File::create(&path).unwrap();
        spawn_reader(std::io::Cursor::new(input), log, path.clone(), tail.clone(), tx).unwrap().join().unwrap();
        assert!(matches!(rx.try_recv(), Ok(Event::Console(crate::event_stream::ConsoleSignal::Success))));
        assert!(matches!(rx.try_recv(), Ok(Event::ConsoleClosed)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("boot\nzzz"), "{}", &text[..20]);
        assert!(text.len() < 1024, "the long line is not logged whole: {} bytes", text.len());
        assert!(text.contains(&format!("… [a line of {} bytes, over the", CONSOLE_LINE_CAP * 4)), "{text}");
        assert_eq!(tail.lines().len(), 3);
    }
}
