//! The probe's end of the data channel: JSON Lines over a serial port or a
//! virtio-serial port.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{encode_line, DataDevice, GuestMessage, HostMessage};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios;

/// How long to wait for a virtio-serial port to appear after its module
/// loaded: device probing is asynchronous, and under TCG it takes ~100 ms.
const VIRTIO_PORT_APPEAR_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Channel {
    file: File,
    is_tty: bool,
    pending: Vec<u8>,
}

impl Channel {
    pub fn open(device: &DataDevice) -> Result<Channel> {
        let path = match device {
            DataDevice::IsaSerial { path } => PathBuf::from(path),
            DataDevice::VirtioPort { name } => wait_for_virtio_port(name)?,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&path)
            .with_context(|| format!("opening data channel {}", path.display()))?;
        let is_tty = matches!(device, DataDevice::IsaSerial { .. });
        if is_tty {
            make_raw(&file).with_context(|| format!("setting {} to raw mode", path.display()))?;
        }
        Ok(Channel { file, is_tty, pending: Vec::new() })
    }

    /// A channel over an already connected stream (standalone: TCP to the
    /// reference server).
    pub fn from_stream(stream: std::net::TcpStream) -> Channel {
        let _ = stream.set_nodelay(true);
        Channel { file: File::from(std::os::fd::OwnedFd::from(stream)), is_tty: false, pending: Vec::new() }
    }

    pub fn send(&mut self, msg: &GuestMessage) -> Result<()> {
        self.file.write_all(encode_line(msg).as_bytes()).context("writing to the data channel")
    }

    /// Waits until everything written has left the guest (serial FIFO drained).
    pub fn flush(&mut self) {
        if self.is_tty {
            let _ = termios::tcdrain(self.file.as_fd());
        }
    }

    /// Reads the next message from the host, or `None` when `timeout`
    /// passes first or `wake` turns readable (cleared before returning).
    pub fn recv(&mut self, timeout: Duration, wake: Option<BorrowedFd<'_>>) -> Result<Option<HostMessage>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                return Ok(Some(clockstorm_protocol::decode_host(line)?));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut fds = vec![PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            fds.extend(wake.map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
            match poll(&mut fds, poll_timeout(left)) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("polling the data channel"),
            }
            if let (Some(fd), Some(w)) = (wake, fds.get(1)) {
                if w.revents().is_some_and(|r| r.contains(PollFlags::POLLIN)) {
                    crate::outbox::clear_wake(fd);
                    return Ok(None);
                }
            }
            let mut buf = [0u8; 4096];
            let n = self.file.read(&mut buf).context("reading the data channel")?;
            if n == 0 {
                bail!("the host closed the data channel");
            }
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

fn poll_timeout(left: Duration) -> PollTimeout {
    PollTimeout::try_from(left.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX)
}

/// Waits up to `timeout` for `wake` (standalone without a reference
/// server: nothing else to wait for), clearing it if it came.
pub fn wait_for_wake(wake: BorrowedFd<'_>, timeout: Duration) {
    let mut fds = [PollFd::new(wake, PollFlags::POLLIN)];
    if let Ok(1) = poll(&mut fds, poll_timeout(timeout)) {
        crate::outbox::clear_wake(wake);
    }
}

fn make_raw(file: &File) -> nix::Result<()> {
    let mut t = termios::tcgetattr(file.as_fd())?;
    termios::cfmakeraw(&mut t);
    t.control_flags |= termios::ControlFlags::CLOCAL | termios::ControlFlags::CREAD;
    termios::tcsetattr(file.as_fd(), termios::SetArg::TCSANOW, &t)
}

/// Finds `/dev/vportNpM` whose sysfs name matches.
fn wait_for_virtio_port(name: &str) -> Result<PathBuf> {
    let deadline = Instant::now() + VIRTIO_PORT_APPEAR_TIMEOUT;
    loop {
        if let Ok(entries) = std::fs::read_dir("/sys/class/virtio-ports") {
            for entry in entries.flatten() {
                let port_name = std::fs::read_to_string(entry.path().join("name")).unwrap_or_default();
                if port_name.trim() == name {
                    let dev = PathBuf::from("/dev").join(entry.file_name());
                    if dev.exists() {
                        return Ok(dev);
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            bail!("virtio-serial port named {name:?} did not appear within {VIRTIO_PORT_APPEAR_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::{Outbox, Producer};

    /// A channel over loopback TCP and the host's end of it.
    fn pair() -> (Channel, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let guest = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (host, _) = listener.accept().unwrap();
        (Channel::from_stream(guest), host)
    }

    #[test]
    fn an_outbox_wake_up_ends_the_wait_and_host_messages_still_come() {
        let (mut channel, mut host) = pair();
        let (outbox, rx) = Outbox::with_wake(8).unwrap();
        let started = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            outbox.send_now(Producer::Sampler, GuestMessage::Failure { message: "gap".into() });
        });
        assert!(channel.recv(Duration::from_secs(20), rx.wake_fd()).unwrap().is_none());
        assert!(started.elapsed() < Duration::from_secs(10), "the wake-up did not end the wait: {:?}", started.elapsed());
        waker.join().unwrap();
        assert_eq!(rx.take_all().len(), 1);
        // Cleared: the next wait runs until the host's message.
        host.write_all(encode_line(&HostMessage::Beacon { seq: 7 }).as_bytes()).unwrap();
        let got = channel.recv(Duration::from_secs(20), rx.wake_fd()).unwrap();
        assert!(matches!(got, Some(HostMessage::Beacon { seq: 7 })), "{got:?}");
        // And with nothing to wake it, a wait is its timeout.
        let t = Instant::now();
        assert!(channel.recv(Duration::from_millis(30), rx.wake_fd()).unwrap().is_none());
        assert!(t.elapsed() >= Duration::from_millis(25), "{:?}", t.elapsed());
    }
}
