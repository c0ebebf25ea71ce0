//! The guest console: QEMU's stdout, copied line by line into the run's
//! `console.log` (flushed per line, so a crash keeps it), with the last lines
//! kept for error messages and sentinels/panics signalled to the run loop.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::event_stream::{classify_console_line, Event};

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
        let mut reader = BufReader::new(console);
        let mut raw = Vec::new();
        let mut log = Some(log);
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if let Some(file) = log.as_mut() {
                if let Err(error) = file.write_all(&raw).and_then(|()| file.flush()) {
                    log = None;
                    let _ = events.send(Event::WriteFailed { path: log_path.clone(), error });
                }
            }
            let line = String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']).to_owned();
            if let Some(signal) = classify_console_line(&line) {
                let _ = events.send(Event::Console(signal));
            }
            tail.push(line);
        }
    })
}
