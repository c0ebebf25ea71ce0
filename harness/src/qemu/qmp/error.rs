//! The one error type of the QMP client.

use std::path::PathBuf;

/// Everything that can go wrong talking QMP to QEMU. Each variant names what
/// was being done (the command, the event awaited, the handshake step), so a
/// message on its own says where a run stalled.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// The socket never accepted a connection: it did not appear in time,
    /// QEMU exited first, or connecting failed in a way retrying cannot fix.
    #[error("connecting to QMP socket {}: {why}", path.display())]
    Connect {
        /// The socket path given to [`super::Qmp::connect`].
        path: PathBuf,
        /// Why the client gave up.
        why: String,
        /// The last connect error, if one was seen.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Reading from or writing to the socket failed, or QEMU closed it
    /// (see [`QmpError::is_closed`]).
    #[error("QMP I/O during {what}: {source}")]
    Io {
        /// The command, event or handshake step under way.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// QEMU sent something that is not QMP as this client understands it.
    #[error("QMP protocol error during {what}: {line}")]
    Protocol {
        /// What was wrong and during which step.
        what: String,
        /// The offending line or value (truncated to a few hundred bytes).
        line: String,
    },
    /// QEMU answered a command with `{"error": {"class": .., "desc": ..}}`.
    #[error("QMP command {command} failed: {class}: {desc}")]
    Command {
        /// The command that was executed.
        command: String,
        /// QEMU's error class, e.g. `GenericError`, `CommandNotFound`.
        class: String,
        /// QEMU's human-readable description.
        desc: String,
    },
    /// No answer (or no event) arrived in time.
    #[error("QMP timeout waiting for {what}")]
    Timeout {
        /// What was awaited, naming the command or event and the limit.
        what: String,
    },
}

impl QmpError {
    /// True when the error means QEMU closed the QMP connection: end of
    /// stream, or a reset/broken pipe (QEMU 7.2 resets the socket when it
    /// exits after `quit`).
    pub fn is_closed(&self) -> bool {
        use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
        matches!(self, QmpError::Io { source, .. } if matches!(source.kind(), UnexpectedEof | ConnectionReset | BrokenPipe))
    }
}
