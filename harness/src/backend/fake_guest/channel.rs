//! The fake's end of the data channel: it connects to the socket the
//! harness listens on (as QEMU's chardev does), writes JSON lines through
//! one lock so they never interleave, and reads the host's messages on the
//! "channel" thread: a pong goes to the exchange waiting for it (stamped
//! with t3 the moment it is read, as the probe stamps it), a beacon is
//! answered at once, an action is carried out.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{decode_host, encode_line, Beacon, GuestMessage, HostMessage};

use super::guest::Guest;

/// How long the harness has to be listening on the data socket: it binds
/// before it starts the guest, so this only covers a loaded host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_RETRY: Duration = Duration::from_millis(10);
/// A harness that reads nothing for this long is gone or wedged: the fake
/// ends rather than block a thread (and the lock) forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the channel thread looks up from a quiet socket to see
/// whether the guest is shutting down.
const READ_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("connecting to the data channel {path}: {source}")]
    Connect { path: String, source: std::io::Error },
    #[error("the host closed the data channel")]
    Closed,
    #[error("writing to the data channel: {0}")]
    Write(std::io::Error),
    #[error("reading the data channel: {0}")]
    Read(std::io::Error),
}

/// The writing half, shared by every thread that sends.
pub struct Link {
    stream: Mutex<UnixStream>,
}

impl Link {
    /// Connects to `path`, retrying while the harness is not listening
    /// yet; returns the link and a stream for the reading thread.
    pub fn connect(path: &Path) -> Result<(Link, UnixStream), ChannelError> {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let err = |source| ChannelError::Connect { path: path.display().to_string(), source };
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) && Instant::now() < deadline => {
                    std::thread::sleep(CONNECT_RETRY)
                }
                Err(e) => return Err(err(e)),
            }
        };
        stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(err)?;
        let reader = stream.try_clone().map_err(err)?;
        Ok((Link { stream: Mutex::new(stream) }, reader))
    }

    pub fn send(&self, msg: &GuestMessage) -> Result<(), ChannelError> {
        self.send_raw(encode_line(msg).as_bytes())
    }

    /// Bytes as they are, whatever they are (the hostile modes write garbage).
    pub fn send_raw(&self, bytes: &[u8]) -> Result<(), ChannelError> {
        let mut s = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        s.write_all(bytes).map_err(write_error)
    }

    /// One line of `len` bytes and its newline, written in 64 KiB chunks with
    /// `pause` after each while holding the lock (so no other message
    /// lands inside it): a line that goes on for a while.
    pub fn send_long_line(&self, len: u64, pause: Duration) -> Result<(), ChannelError> {
        const CHUNK: usize = 64 << 10;
        let chunk = vec![b'x'; CHUNK];
        let mut s = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        s.write_all(b"{\"type\":\"kernel_log\",\"message\":\"").map_err(write_error)?;
        let mut left = len;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            s.write_all(&chunk[..n]).map_err(write_error)?;
            left -= n as u64;
            std::thread::sleep(pause);
        }
        s.write_all(b"\n").map_err(write_error)
    }
}

fn write_error(e: std::io::Error) -> ChannelError {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => ChannelError::Closed,
        _ => ChannelError::Write(e),
    }
}

/// Answers to pings, by sequence number: (t2, t3).
#[derive(Default)]
pub struct Pongs {
    got: Mutex<HashMap<u64, (i64, i64)>>,
    arrived: Condvar,
}

impl Pongs {
    fn deliver(&self, seq: u64, t2: i64, t3: i64) {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).insert(seq, (t2, t3));
        self.arrived.notify_all();
    }

    /// The answer to ping `seq` if it arrives within `wait`; answers to
    /// earlier pings (late, their exchange already given up) are dropped.
    pub fn wait(&self, seq: u64, wait: Duration) -> Option<(i64, i64)> {
        let mut got = self.got.lock().unwrap_or_else(|e| e.into_inner());
        got.retain(|s, _| *s >= seq);
        if let Some(answer) = got.remove(&seq) {
            return Some(answer);
        }
        let (mut got, _) = self.arrived.wait_timeout(got, wait).unwrap_or_else(|e| e.into_inner());
        got.remove(&seq)
    }
}

/// Starts the channel thread reading `stream`.
pub fn spawn_reader(guest: Arc<Guest>, stream: UnixStream, pongs: Arc<Pongs>) -> std::io::Result<JoinHandle<()>> {
    stream.set_read_timeout(Some(READ_POLL))?;
    std::thread::Builder::new().name("fake-channel".into()).spawn(move || {
        if let Err(e) = read_loop(&guest, stream, &pongs) {
            guest.fail(e.to_string());
        }
    })
}

fn read_loop(guest: &Guest, stream: UnixStream, pongs: &Pongs) -> Result<(), ChannelError> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    while !guest.is_shut_down() {
        // A timed-out read leaves what it read in `line`; the next one goes on from there.
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Err(ChannelError::Closed),
            Ok(_) if line.last() != Some(&b'\n') => return Err(ChannelError::Closed),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => continue,
            Err(e) => return Err(ChannelError::Read(e)),
        }
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        line.clear();
        if text.is_empty() {
            continue;
        }
        // The line sat in the socket while the guest did not run.
        if !guest.on_vcpu0() {
            return Ok(());
        }
        match decode_host(&text) {
            Ok(msg) => handle(guest, msg, pongs),
            // The probe gives up on a line it cannot read; so does the fake.
            Err(e) => {
                guest.fail(e.to_string());
                return Ok(());
            }
        }
    }
    Ok(())
}

fn handle(guest: &Guest, msg: HostMessage, pongs: &Pongs) {
    match msg {
        HostMessage::Pong { seq, t2_ns } => pongs.deliver(seq, t2_ns, guest.clock.read().realtime_ns),
        HostMessage::Beacon { seq } => {
            let r = guest.clock.read();
            let beacon = Beacon {
                seq,
                tsc: r.tsc,
                monotonic_ns: r.mono_ns,
                realtime_ns: r.realtime_ns,
                samplers: guest.sampler_progress(),
                timer_wakeups: guest.timer_wakeups.load(std::sync::atomic::Ordering::Relaxed),
                timer_last_wake_ns: guest.timer_last_wake_ns.load(std::sync::atomic::Ordering::Relaxed),
            };
            guest.send(&GuestMessage::Beacon(beacon));
        }
        HostMessage::Action { id, action } => {
            let result = guest.kernel.perform(id, &action, &guest.clock);
            guest.send(&GuestMessage::ActionResult(result));
        }
    }
}
