//! A small synchronous QMP client for the QEMU the harness starts with
//! `-qmp unix:<dir>/qmp.sock,server=on,wait=off`.
//!
//! QMP is line-based JSON over the socket: QEMU greets, the client sends
//! `qmp_capabilities`, then every command gets exactly one `return` or
//! `error` reply, and asynchronous events (`STOP`, `RESUME`, ...) may arrive
//! between them. This client sends one command at a time, tags it with an
//! `id`, buffers events that arrive while it waits (nothing is dropped), and
//! bounds every read with a timeout. A reply whose `id` belongs to an earlier
//! command that timed out is recognised and discarded, so one slow answer does
//! not shift every later answer by one.

mod error;
mod message;

#[cfg(test)]
mod qemu_tests;
#[cfg(test)]
mod tests;

pub use error::QmpError;
pub use message::{parse_cpus_fast, parse_greeting, parse_line, parse_status, Greeting, Message, QmpEvent, VcpuThread};

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use message::excerpt;

/// Default limit on one command's round trip (send to reply). The commands
/// the harness uses (`stop`, `cont`, `query-status`, `query-cpus-fast`,
/// `quit`) are answered by QEMU's main loop in well under a millisecond; even
/// under TCG on a loaded host, where vCPU threads can hold the big QEMU lock
/// for tens of milliseconds, replies come in far less than a second. 5 s is
/// ample headroom over that yet fails a wedged QEMU promptly instead of
/// hanging a run. Change it per client with [`Qmp::set_timeout`].
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between attempts to connect while QEMU is still starting. QEMU
/// creates the socket within milliseconds of exec; 10 ms keeps the added
/// latency negligible while costing only ~100 failed `connect(2)`s a second.
pub const CONNECT_RETRY_INTERVAL: Duration = Duration::from_millis(10);

/// How long [`Qmp::stop`] / [`Qmp::cont`] keep waiting for the `STOP` /
/// `RESUME` event once the command has returned. QEMU 7.2 emits these events
/// synchronously inside the command, so they reach the socket *before* the
/// `return` and normally no wait happens; when the VM was already in the
/// requested state QEMU emits nothing and this grace is the whole cost of
/// looking. 50 ms covers a reordering on another QEMU build without making a
/// redundant `stop` slow.
pub const STATE_EVENT_GRACE: Duration = Duration::from_millis(50);

/// Limit on writing one command. Commands are a few dozen bytes and the
/// socket buffer is hundreds of KiB, so a write only blocks if QEMU has stopped
/// reading altogether; 5 s (as for replies) reports that instead of hanging.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest line accepted from QEMU. The largest reply QEMU 7.2 produces,
/// `query-qmp-schema`, is a few hundred KiB; 16 MiB is far above any real
/// reply yet bounds memory if the peer is not QEMU or goes haywire.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Shortest read timeout set on the socket. `SO_RCVTIMEO` of zero means
/// "block forever", so a deadline that has (nearly) passed still gets one
/// short read to pick up data that is already there.
const MIN_READ_WAIT: Duration = Duration::from_millis(1);

/// A connected, negotiated QMP session. Dropping it closes the socket (QEMU
/// keeps running; use [`Qmp::quit`] to end QEMU).
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Bytes of a line not yet terminated (a read timed out mid-line).
    partial: Vec<u8>,
    events: VecDeque<QmpEvent>,
    next_id: u64,
    timeout: Duration,
    version: (u64, u64, u64),
    package: String,
    capabilities: Vec<String>,
}

impl std::fmt::Debug for Qmp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qmp")
            .field("version", &self.version())
            .field("next_id", &self.next_id)
            .field("buffered_events", &self.events.len())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Connect errors worth retrying while QEMU starts: the socket file does not
/// exist yet, or exists but nobody listens (not yet, or a stale file).
fn retryable(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused)
}

impl Qmp {
    /// Connects to QEMU's QMP socket at `path`, retrying while the socket does
    /// not exist or refuses (QEMU is starting), then reads the greeting and
    /// negotiates capabilities. `timeout` bounds the whole thing, handshake
    /// included. `alive` is polled between attempts; once it returns false
    /// (QEMU exited) connecting fails at once instead of waiting out
    /// `timeout`.
    pub fn connect(path: &Path, timeout: Duration, mut alive: impl FnMut() -> bool) -> Result<Qmp, QmpError> {
        let deadline = Instant::now() + timeout;
        let connect_err = |why: String, source: Option<io::Error>| QmpError::Connect { path: path.to_path_buf(), why, source };
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e) if retryable(&e) => {
                    if !alive() {
                        return Err(connect_err("QEMU exited before its QMP socket accepted a connection".into(), Some(e)));
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(connect_err(format!("no QMP socket accepting after {timeout:?}"), Some(e)));
                    }
                    std::thread::sleep(CONNECT_RETRY_INTERVAL.min(deadline - now));
                }
                Err(e) => return Err(connect_err("connect failed".into(), Some(e))),
            }
        };
        Qmp::handshake(stream, deadline)
    }

    /// Reads the greeting and negotiates capabilities on a connected stream,
    /// all before `deadline`.
    fn handshake(stream: UnixStream, deadline: Instant) -> Result<Qmp, QmpError> {
        let io_err = |what: &str| {
            let what = what.to_string();
            move |source| QmpError::Io { what, source }
        };
        stream.set_write_timeout(Some(WRITE_TIMEOUT)).map_err(io_err("QMP setup"))?;
        let writer = stream.try_clone().map_err(io_err("QMP setup"))?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            partial: Vec::new(),
            events: VecDeque::new(),
            next_id: 1,
            timeout: DEFAULT_COMMAND_TIMEOUT,
            version: (0, 0, 0),
            package: String::new(),
            capabilities: Vec::new(),
        };

        const GREETING: &str = "QMP greeting";
        let greeting = loop {
            match qmp.read_message(deadline, GREETING)? {
                None => return Err(QmpError::Timeout { what: GREETING.into() }),
                Some(Message::Greeting(g)) => break g,
                // Nothing else is legal before the greeting; an event is
                // harmless, anything else means this is not a fresh QMP session.
                Some(Message::Event(e)) => qmp.events.push_back(e),
                Some(other) => return Err(QmpError::Protocol { what: format!("{GREETING}: expected greeting"), line: excerpt(&format!("{other:?}")) }),
            }
        };
        let greeting = message::parse_greeting(&greeting)?;
        (qmp.version, qmp.package, qmp.capabilities) = (greeting.version, greeting.package, greeting.capabilities);

        let returned = qmp.execute_until("qmp_capabilities", None, deadline)?;
        if returned != json!({}) {
            return Err(QmpError::Protocol { what: "qmp_capabilities: expected an empty return".into(), line: excerpt(&returned.to_string()) });
        }
        Ok(qmp)
    }

    /// QEMU's version from the greeting, as `"major.minor.micro"` (e.g.
    /// `"7.2.22"`).
    pub fn version(&self) -> String {
        let (major, minor, micro) = self.version;
        format!("{major}.{minor}.{micro}")
    }

    /// QEMU's version from the greeting as numbers `(major, minor, micro)`.
    pub fn version_numbers(&self) -> (u64, u64, u64) {
        self.version
    }

    /// The greeting's `package` string (distribution build, e.g.
    /// `"Debian 1:7.2+dfsg-7+deb12u18+b3"`), trimmed; empty for upstream builds.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// Capabilities QEMU offered in the greeting (e.g. `["oob"]`). None are
    /// enabled: this client negotiates plain QMP.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// The current per-command timeout (default [`DEFAULT_COMMAND_TIMEOUT`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sets the per-command timeout: how long [`Qmp::execute`] and the typed
    /// helpers wait for a reply.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Executes `command` with optional `arguments` (a JSON object) and
    /// returns its `return` value. Events arriving before the reply are
    /// buffered for [`Qmp::take_events`] / [`Qmp::wait_event`]. An error reply
    /// becomes [`QmpError::Command`]; no reply within [`Qmp::timeout`] becomes
    /// [`QmpError::Timeout`] naming the command (a late reply is discarded
    /// when it arrives).
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        let deadline = Instant::now() + self.timeout;
        self.execute_until(command, arguments, deadline)
    }

    fn execute_until(&mut self, command: &str, arguments: Option<Value>, deadline: Instant) -> Result<Value, QmpError> {
        let started = Instant::now();
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({ "execute": command, "id": id });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        self.send(&request, command)?;
        let ours = |reply_id: &Option<Value>| match reply_id {
            // QEMU echoes the id verbatim. A reply without one answers a
            // request QEMU could not parse; we have one request in flight.
            None => true,
            Some(reply_id) => reply_id.as_u64() == Some(id),
        };
        loop {
            match self.read_message(deadline, command)? {
                None => {
                    let waited = started.elapsed();
                    return Err(QmpError::Timeout { what: format!("reply to {command} (id {id}, waited {waited:?})") });
                }
                Some(Message::Event(event)) => self.events.push_back(event),
                Some(Message::Return { id: reply_id, value }) => {
                    if ours(&reply_id) {
                        return Ok(value);
                    }
                }
                Some(Message::Error { id: reply_id, class, desc }) => {
                    if ours(&reply_id) {
                        return Err(QmpError::Command { command: command.to_string(), class, desc });
                    }
                }
                Some(Message::Greeting(g)) => {
                    return Err(QmpError::Protocol { what: format!("{command}: unexpected second greeting"), line: excerpt(&g.to_string()) })
                }
            }
        }
    }

    /// Removes and returns all buffered events, oldest first. Only events
    /// already read from the socket are returned; see [`Qmp::poll_events`].
    pub fn take_events(&mut self) -> Vec<QmpEvent> {
        self.events.drain(..).collect()
    }

    /// Reads whatever QEMU has already sent without waiting for more (events
    /// emitted while no command was in flight sit in the socket until read),
    /// then returns all buffered events like [`Qmp::take_events`].
    pub fn poll_events(&mut self) -> Result<Vec<QmpEvent>, QmpError> {
        let now = Instant::now();
        while let Some(message) = self.read_message(now, "polling events")? {
            if let Message::Event(event) = message {
                self.events.push_back(event);
            }
            // A return/error here is the late reply of a timed-out command.
        }
        Ok(self.take_events())
    }

    /// Returns the oldest buffered event called `name`, or waits up to
    /// `timeout` for one to arrive. Other events stay buffered in order.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Result<QmpEvent, QmpError> {
        let deadline = Instant::now() + timeout;
        self.await_event(name, 0, deadline)?
            .ok_or_else(|| QmpError::Timeout { what: format!("event {name} (waited {timeout:?})") })
    }

    /// Removes and returns the first event `name` at buffer index `from` or
    /// later, reading from the socket until `deadline`; `None` on timeout.
    fn await_event(&mut self, name: &str, from: usize, deadline: Instant) -> Result<Option<QmpEvent>, QmpError> {
        let found = self.events.iter().skip(from).position(|e| e.name == name);
        if let Some(offset) = found {
            return Ok(self.events.remove(from + offset));
        }
        let what = format!("event {name}");
        loop {
            match self.read_message(deadline, &what)? {
                None => return Ok(None),
                Some(Message::Event(event)) if event.name == name => return Ok(Some(event)),
                Some(Message::Event(event)) => self.events.push_back(event),
                // A late reply of a timed-out command: nobody awaits it.
                Some(Message::Return { .. }) | Some(Message::Error { .. }) => {}
                Some(Message::Greeting(g)) => {
                    return Err(QmpError::Protocol { what: format!("{what}: unexpected second greeting"), line: excerpt(&g.to_string()) })
                }
            }
        }
    }

    /// Runs `command` and picks up the `event` it triggers, if any.
    fn state_change(&mut self, command: &str, event: &str) -> Result<Option<i64>, QmpError> {
        let mark = self.events.len();
        self.execute(command, None)?;
        let grace = Instant::now() + STATE_EVENT_GRACE;
        Ok(self.await_event(event, mark, grace)?.map(|e| e.timestamp_us))
    }

    /// Pauses the VM (QMP `stop`). Returns the `STOP` event's timestamp (host
    /// `CLOCK_REALTIME`, µs) when QEMU emitted one; `None` when the VM was
    /// not running (QEMU then emits no event).
    pub fn stop(&mut self) -> Result<Option<i64>, QmpError> {
        self.state_change("stop", "STOP")
    }

    /// Resumes the VM (QMP `cont`). Returns the `RESUME` event's timestamp
    /// (host `CLOCK_REALTIME`, µs) when QEMU emitted one; `None` when the VM
    /// was already running.
    pub fn cont(&mut self) -> Result<Option<i64>, QmpError> {
        self.state_change("cont", "RESUME")
    }

    /// QMP `query-status`: the run state (`"running"`, `"paused"`,
    /// `"prelaunch"` under `-S`, `"shutdown"`, ...) and whether vCPUs run.
    pub fn query_status(&mut self) -> Result<(String, bool), QmpError> {
        let value = self.execute("query-status", None)?;
        message::parse_status(&value)
    }

    /// QMP `query-cpus-fast`: each vCPU's index and host thread id. Does not
    /// interrupt the vCPUs (unlike the removed `query-cpus`).
    pub fn query_cpus_fast(&mut self) -> Result<Vec<VcpuThread>, QmpError> {
        let value = self.execute("query-cpus-fast", None)?;
        message::parse_cpus_fast(&value)
    }

    /// QMP `quit`: QEMU exits at once (no guest shutdown). QEMU 7.2 sends a
    /// `SHUTDOWN` event (`reason: "host-qmp-quit"`), then the return, then
    /// closes the socket; the event stays buffered. QEMU closing the
    /// connection before its reply is read also counts as success. The caller
    /// still reaps the process.
    pub fn quit(&mut self) -> Result<(), QmpError> {
        match self.execute("quit", None) {
            Ok(_) => Ok(()),
            Err(e) if e.is_closed() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes one request line. Uses `send(MSG_NOSIGNAL)` so a closed socket
    /// is an `EPIPE` error, never a `SIGPIPE`, whatever the process's signal
    /// setup.
    fn send(&mut self, request: &Value, what: &str) -> Result<(), QmpError> {
        let mut line = request.to_string().into_bytes();
        line.extend_from_slice(b"\r\n");
        let fd = self.writer.as_raw_fd();
        let mut rest = &line[..];
        while !rest.is_empty() {
            // SAFETY: `rest` is a live, initialised buffer of `rest.len()` bytes
            // and `fd` is owned by `self.writer` for the duration of the call.
            let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        return Err(QmpError::Timeout { what: format!("sending {what} (after {WRITE_TIMEOUT:?})") })
                    }
                    io::ErrorKind::BrokenPipe => {
                        let source = io::Error::new(io::ErrorKind::UnexpectedEof, "QEMU closed the QMP connection");
                        return Err(QmpError::Io { what: format!("sending {what}"), source });
                    }
                    _ => return Err(QmpError::Io { what: format!("sending {what}"), source: e }),
                }
            }
            rest = &rest[n as usize..];
        }
        Ok(())
    }

    /// Reads and classifies the next non-empty line, or `None` once
    /// `deadline` has passed with no complete line.
    fn read_message(&mut self, deadline: Instant, what: &str) -> Result<Option<Message>, QmpError> {
        loop {
            let Some(line) = self.read_line(deadline, what)? else {
                return Ok(None);
            };
            let line = line.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() {
                continue;
            }
            return message::parse_line(line, what).map(Some);
        }
    }

    /// Reads one `\n`-terminated line, keeping a partial line across timeouts.
    fn read_line(&mut self, deadline: Instant, what: &str) -> Result<Option<String>, QmpError> {
        let io_err = |source| QmpError::Io { what: what.to_string(), source };
        loop {
            let wait = deadline.saturating_duration_since(Instant::now()).max(MIN_READ_WAIT);
            self.reader.get_ref().set_read_timeout(Some(wait)).map_err(io_err)?;
            // Take at most the line limit (plus one to detect overflow).
            let budget = (MAX_LINE_BYTES + 1).saturating_sub(self.partial.len()) as u64;
            let result = (&mut self.reader).take(budget).read_until(b'\n', &mut self.partial);
            match result {
                Ok(0) => {
                    let source = io::Error::new(io::ErrorKind::UnexpectedEof, "QEMU closed the QMP connection");
                    return Err(io_err(source));
                }
                Ok(_) if self.partial.last() == Some(&b'\n') => {
                    let bytes = std::mem::take(&mut self.partial);
                    return String::from_utf8(bytes).map(Some).map_err(|e| QmpError::Protocol {
                        what: format!("{what}: line is not UTF-8"),
                        line: excerpt(&String::from_utf8_lossy(e.as_bytes())),
                    });
                }
                Ok(_) if self.partial.len() > MAX_LINE_BYTES => {
                    let head = String::from_utf8_lossy(&self.partial[..1024]).into_owned();
                    self.partial.clear();
                    return Err(QmpError::Protocol { what: format!("{what}: line longer than {MAX_LINE_BYTES} bytes"), line: excerpt(&head) });
                }
                // Bytes without a newline and under the limit: EOF mid-line.
                Ok(_) => {
                    let source = io::Error::new(io::ErrorKind::UnexpectedEof, "QEMU closed the QMP connection mid-line");
                    return Err(io_err(source));
                }
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(e)),
            }
        }
    }
}
