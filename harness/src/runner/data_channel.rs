//! The host's end of the data channel: a Unix socket QEMU connects to, and a
//! reader thread that answers pings the moment they arrive (the t2 stamp is
//! taken when the line is read, before anything else is done with it).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{check_hello_version, decode_guest, encode_line, GuestMessage, HostMessage};

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

/// Starts the reader thread. It ends when the socket closes.
pub fn spawn_reader(stream: UnixStream, events: Sender<Event>) -> std::io::Result<(JoinHandle<()>, HostWriter)> {
    let writer: HostWriter = Arc::new(Mutex::new(stream.try_clone()?));
    let thread_writer = writer.clone();
    let handle = std::thread::Builder::new().name("clockstorm-data".into()).spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut saw_hello = false;
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let stamp = HostStamp::now();
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let decoded = if saw_hello {
                decode_guest(text).map_err(|e| (e, false))
            } else {
                check_hello_version(text).map(GuestMessage::Hello).map_err(|e| (e, true))
            };
            match decoded {
                Ok(msg) => {
                    saw_hello = true;
                    if let GuestMessage::Ping { seq, .. } = msg {
                        let _ = send(&thread_writer, &HostMessage::Pong { seq, t2_ns: stamp.realtime_ns });
                    }
                    let _ = events.send(Event::Guest(stamp, msg));
                }
                Err((e, true)) => {
                    let _ = events.send(Event::Protocol(e.to_string()));
                }
                Err((e, false)) => {
                    let _ = events.send(Event::Garbled { stamp, line: text.to_owned(), error: e.to_string() });
                }
            }
        }
        let _ = events.send(Event::DataClosed);
    })?;
    Ok((handle, writer))
}
