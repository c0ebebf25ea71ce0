//! Where the probe's messages go and where the host's answers come from:
//! the guest's data channel, or (standalone) an output file plus an optional
//! TCP connection to `clockstorm reference-server` for the exchanges.

use std::io::Write;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use anyhow::{Context, Result};
use clockstorm_protocol::{encode_line, GuestMessage, HostMessage};

use crate::channel::Channel;

pub trait Link {
    /// Sends one message.
    fn send(&mut self, msg: &GuestMessage) -> Result<()>;
    /// The next message from the host, or None when `timeout` passes first
    /// or `wake` (an outbox's, see `Outbox::send_now`) is readable; a
    /// wake-up is cleared before returning.
    fn recv(&mut self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> Result<Option<HostMessage>>;
    /// Whether a host answers pings (standalone runs may have none).
    fn has_reference(&self) -> bool;
    /// Waits until everything sent has left.
    fn flush(&mut self);
}

impl Link for Channel {
    fn send(&mut self, msg: &GuestMessage) -> Result<()> {
        Channel::send(self, msg)
    }
    fn recv(&mut self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> Result<Option<HostMessage>> {
        Channel::recv(self, timeout, wake)
    }
    fn has_reference(&self) -> bool {
        true
    }
    fn flush(&mut self) {
        Channel::flush(self)
    }
}

/// Standalone: every message to `out`; pings also to the reference server.
pub struct StandaloneLink {
    pub out: Box<dyn Write + Send>,
    pub reference: Option<Channel>,
}

impl Link for StandaloneLink {
    fn send(&mut self, msg: &GuestMessage) -> Result<()> {
        self.out.write_all(encode_line(msg).as_bytes()).context("writing the output")?;
        if let (GuestMessage::Ping { .. }, Some(reference)) = (msg, self.reference.as_mut()) {
            reference.send(msg)?;
        }
        Ok(())
    }
    fn recv(&mut self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> Result<Option<HostMessage>> {
        match (self.reference.as_mut(), wake) {
            (Some(r), _) => r.recv(timeout, wake),
            (None, Some(fd)) => {
                crate::channel::wait_for_wake(fd, timeout);
                Ok(None)
            }
            (None, None) => {
                std::thread::sleep(timeout);
                Ok(None)
            }
        }
    }
    fn has_reference(&self) -> bool {
        self.reference.is_some()
    }
    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
