//! The probe's end of the data channel: JSON Lines over a serial port or a
//! virtio-serial port.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
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

    /// Reads the next message from the host, or `None` when `timeout` passes first.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<HostMessage>> {
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
            let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
            let ms = PollTimeout::try_from(left.as_millis().max(1) as i32).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("polling the data channel"),
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
