//! The host's end of the data channel: a Unix socket QEMU connects to, and a
//! reader thread that answers pings the moment they arrive (the t2 stamp is
//! taken when the line is read, before anything else is done with it).
//!
//! The guest is not trusted to speak the protocol: lines are read in bounded
//! memory ([`BoundedLines`], [`MAX_LINE_BYTES`]), lines that are not messages
//! are counted and skipped, and messages wait for the run loop behind a
//! bounded backlog ([`crate::backlog`]); what the channel had to endure is
//! the run's `channel_health` record.

use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{
    check_hello_version, decode_guest, encode_line, escape_bytes, ChannelHealth, DecodeError, GuestMessage, HarnessEvent, HostMessage,
};

use super::line_reader::{BoundedLines, Line, HEAD_BYTES};
use crate::backlog::{Admission, Backlog, BACKLOG_CAP_BYTES};
use crate::event_stream::{Event, HostStamp};

/// How long QEMU has to connect to the data socket after it was started.
/// QEMU connects while parsing its command line, within milliseconds.
pub const QEMU_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// Waits for QEMU to connect to `listener`, giving up when `alive` says QEMU
/// died or [`QEMU_CONNECT_TIMEOUT`] passes.
pub fn accept(listener: &UnixListener, mut alive: impl FnMut() -> bool) -> std::io::Result<UnixStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + QEMU_CONNECT_TIMEOUT;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if !alive() {
            return Err(std::io::Error::other("QEMU exited before connecting to the data channel"));
        }
        if Instant::now() >= deadline {
            return Err(std::io::Error::other(format!("QEMU did not connect to the data channel within {QEMU_CONNECT_TIMEOUT:?}")));
        }
        std::thread::sleep(ACCEPT_POLL);
    }
}

/// Binds the listener at `path` (inside the run's private temp dir).
pub fn listen(path: &Path) -> std::io::Result<UnixListener> {
    UnixListener::bind(path)
}

/// The writing half of the data channel, shared by the reader thread (pongs)
/// and the run loop (actions) so their lines never interleave.
pub type HostWriter = Arc<Mutex<UnixStream>>;

/// Sends one message to the probe.
pub fn send(writer: &HostWriter, msg: &HostMessage) -> std::io::Result<()> {
    writer.lock().unwrap_or_else(|e| e.into_inner()).write_all(encode_line(msg).as_bytes())
}

/// The longest line the reader keeps: the probe's lines are at most a few
/// KiB (a kernel-log line, a hello), so 256 KiB is generous for any of them
/// and bounds what a guest can make the harness hold for one line.
pub const MAX_LINE_BYTES: usize = 256 << 10;
/// Malformed and over-long lines recorded one by one (as `garbled`, cut to
/// [`GARBLED_EXCERPT_BYTES`]); past these only the counts grow, so garbage
/// cannot fill the results disk.
pub const GARBLED_RECORDED: u64 = 16;
pub const GARBLED_EXCERPT_BYTES: usize = 256;

/// The reader thread and its backlog: joining it first closes the backlog,
/// so a reader waiting behind a full one (a flood) gives up and ends.
pub struct Reader {
    handle: JoinHandle<()>,
    backlog: Arc<Backlog>,
}

impl Reader {
    pub fn join(self) -> std::thread::Result<()> {
        self.backlog.close();
        self.handle.join()
    }
}

/// Starts the reader thread. It ends when the socket closes; its last event
/// is the channel's health.
pub fn spawn_reader(stream: UnixStream, events: Sender<Event>) -> std::io::Result<(Reader, HostWriter)> {
    let writer: HostWriter = Arc::new(Mutex::new(stream.try_clone()?));
    let backlog = Backlog::new(BACKLOG_CAP_BYTES);
    let mut reader = ChannelReader { writer: writer.clone(), events, backlog: backlog.clone(), saw_hello: false, health: Health::default() };
    let handle = std::thread::Builder::new().name("clockstorm-data".into()).spawn(move || {
        let mut lines = BoundedLines::new(stream, MAX_LINE_BYTES);
        while let Some(Ok(line)) = lines.next_line() {
            if !reader.take(line) {
                break;
            }
        }
        let health = reader.health.finish();
        let _ = reader.events.send(Event::Harness(HarnessEvent::ChannelHealth(health)));
        let _ = reader.events.send(Event::DataClosed);
    })?;
    Ok((Reader { handle, backlog }, writer))
}

/// Everything the reader thread sends for `input` arriving on the channel,
/// in order, the queued events unwrapped (their backlog credit given back
/// at once), the last being `DataClosed`. For the guest-protocol fuzz
/// target (`clockstorm::fuzzing`), which runs the real reader this way.
pub fn read_channel(input: &[u8]) -> std::io::Result<Vec<Event>> {
    let (host, mut guest) = UnixStream::pair()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (reader, _writer) = spawn_reader(host, tx)?;
    // Written from its own thread while this one drains the events: a
    // reader waiting on a full backlog then never blocks the writer.
    let input = input.to_vec();
    let writing = std::thread::spawn(move || guest.write_all(&input));
    let mut out = Vec::new();
    while let Ok(e) = rx.recv() {
        let closed = matches!(e, Event::DataClosed);
        out.push(match e {
            Event::Data(_credit, inner) => *inner,
            other => other,
        });
        if closed {
            break;
        }
    }
    // A reader that ended early (the first line was not a hello) leaves the
    // writer to fail on a closed socket: not an error here.
    let _ = writing.join();
    reader.join().map_err(|_| std::io::Error::other("the data channel reader panicked"))?;
    Ok(out)
}

/// The reader thread's state.
struct ChannelReader {
    writer: HostWriter,
    events: Sender<Event>,
    backlog: Arc<Backlog>,
    saw_hello: bool,
    health: Health,
}

impl ChannelReader {
    /// Handles one line; false once the backlog is closed (teardown).
    fn take(&mut self, line: Line<'_>) -> bool {
        let stamp = HostStamp::now();
        let text = match line {
            Line::Overlong { len, head } => {
                self.health.overlong(len, head);
                let why = format!("a line of {len} bytes, over the {MAX_LINE_BYTES}-byte cap: discarded unread");
                return self.offending(stamp, head, why);
            }
            Line::Complete(bytes) => {
                self.health.line(bytes.len());
                match std::str::from_utf8(bytes) {
                    Ok(text) => text.trim(),
                    Err(e) => {
                        self.health.malformed(bytes);
                        return self.offending(stamp, bytes, format!("not UTF-8 text: {e}"));
                    }
                }
            }
        };
        if text.is_empty() {
            return true;
        }
        let decoded = if self.saw_hello {
            decode_guest(text)
        } else {
            // The probe must start with its hello: anything else ends the run (see `offending`).
            check_hello_version(text).map(GuestMessage::Hello)
        };
        match decoded {
            Ok(msg) => {
                self.saw_hello = true;
                if let GuestMessage::Ping { seq, .. } = msg {
                    let _ = send(&self.writer, &HostMessage::Pong { seq, t2_ns: stamp.realtime_ns });
                }
                self.health.message(stamp);
                self.queue(text.len(), Event::Guest(stamp, msg))
            }
            // Another protocol version ends the run with the advice to rebuild.
            Err(e @ DecodeError::VersionMismatch { .. }) => self.events.send(Event::Protocol(e.to_string())).is_ok(),
            Err(e) => {
                self.health.malformed(text.as_bytes());
                let error = match e {
                    DecodeError::Malformed { source, .. } => source.to_string(),
                    DecodeError::NotHello(_) => "another message".into(),
                    other => cut(&other.to_string()),
                };
                self.offending(stamp, text.as_bytes(), error)
            }
        }
    }

    /// A line that was skipped: recorded (cut short) while few, counted always.
    fn offending(&mut self, stamp: HostStamp, bytes: &[u8], error: String) -> bool {
        if !self.saw_hello {
            let message = format!("first message from the probe is not a hello: {error}: {}", escape_bytes(bytes, GARBLED_EXCERPT_BYTES));
            return self.events.send(Event::Protocol(message)).is_ok();
        }
        if self.health.h.malformed_lines + self.health.h.overlong_lines > GARBLED_RECORDED {
            return true;
        }
        let line = escape_bytes(bytes, GARBLED_EXCERPT_BYTES);
        self.queue(line.len(), Event::Garbled { stamp, line, error })
    }

    /// Queues an event behind the backlog; false once it is closed.
    fn queue(&mut self, bytes: usize, event: Event) -> bool {
        let credit = match self.backlog.admit(bytes) {
            Admission::Now(c) => c,
            Admission::Waited(c, waited) => {
                self.health.waited(waited);
                c
            }
            Admission::Closed => {
                self.health.h.dropped_messages += 1;
                return false;
            }
        };
        self.events.send(Event::Data(credit, Box::new(event))).is_ok()
    }
}

/// An error's text cut to a length fit for a record.
fn cut(text: &str) -> String {
    escape_bytes(text.as_bytes(), GARBLED_EXCERPT_BYTES)
}

/// The counts behind [`ChannelHealth`].
#[derive(Default)]
struct Health {
    h: ChannelHealth,
    /// The second (host monotonic) being counted, and its messages so far.
    second: u64,
    in_second: u64,
    waited: Duration,
}

impl Health {
    fn line(&mut self, len: usize) {
        self.h.bytes += len as u64 + 1;
        self.h.longest_line_bytes = self.h.longest_line_bytes.max(len as u64);
    }

    fn message(&mut self, stamp: HostStamp) {
        self.h.messages += 1;
        let second = stamp.monotonic_ns / 1_000_000_000;
        if second != self.second {
            self.second = second;
            self.in_second = 0;
        }
        self.in_second += 1;
        self.h.peak_messages_per_s = self.h.peak_messages_per_s.max(self.in_second);
    }

    fn first(&mut self, bytes: &[u8]) {
        if self.h.first_offending.is_none() {
            self.h.first_offending = Some(escape_bytes(bytes, HEAD_BYTES));
        }
    }

    fn malformed(&mut self, bytes: &[u8]) {
        self.h.malformed_lines += 1;
        self.first(bytes);
    }

    fn overlong(&mut self, len: u64, head: &[u8]) {
        self.h.overlong_lines += 1;
        self.h.bytes += len + 1;
        self.h.longest_line_bytes = self.h.longest_line_bytes.max(len);
        self.first(head);
    }

    fn waited(&mut self, waited: Duration) {
        self.h.backpressure_waits += 1;
        self.waited += waited;
    }

    fn finish(mut self) -> ChannelHealth {
        self.h.backpressure_ms = self.waited.as_millis() as u64;
        self.h.line_cap_bytes = MAX_LINE_BYTES as u64;
        self.h.backlog_cap_bytes = BACKLOG_CAP_BYTES as u64;
        self.h.harness_peak_rss_kib = peak_rss_kib();
        self.h
    }
}

/// This process's peak resident set size (VmHWM), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests;
