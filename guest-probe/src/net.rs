//! The guest's network, brought up by hand for the time service: no
//! userland tools in the initramfs, and Debian's kernels are built without
//! `ip=` autoconfiguration. Loopback and the first other interface go up;
//! the address with its prefix gives the kernel the on-link route to the
//! host's NTP server (QEMU's user-mode network puts it at 10.0.2.2).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long the network device has to appear after its driver loaded
/// (virtio-net probes its device while the module loads; slack for TCG).
const DEVICE_TIMEOUT: Duration = Duration::from_secs(5);

/// `10.0.2.15/24` as (address, prefix length).
pub fn parse_address(text: &str) -> Result<(Ipv4Addr, u8)> {
    let (addr, prefix) = text.split_once('/').with_context(|| format!("{text:?} is not ADDRESS/PREFIX"))?;
    let addr: Ipv4Addr = addr.parse().with_context(|| format!("{addr:?} is not an IPv4 address"))?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32).with_context(|| format!("{prefix:?} is not a prefix length 0..=32"))?;
    Ok((addr, prefix))
}

/// The netmask of a prefix length.
pub fn netmask(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) })
}

/// The first interface other than `lo` among `names`, by name.
pub fn first_device<I: IntoIterator<Item = String>>(names: I) -> Option<String> {
    let mut names: Vec<String> = names.into_iter().filter(|n| n != "lo").collect();
    names.sort();
    names.into_iter().next()
}

/// Brings up `lo` and the first other interface with `address`; returns its name.
pub fn bring_up(address: &str) -> Result<String> {
    let (addr, prefix) = parse_address(address)?;
    let deadline = Instant::now() + DEVICE_TIMEOUT;
    let device = loop {
        let names = std::fs::read_dir("/sys/class/net")
            .context("reading /sys/class/net")?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned());
        if let Some(d) = first_device(names) {
            break d;
        }
        if Instant::now() >= deadline {
            bail!("no network interface appeared within {DEVICE_TIMEOUT:?} (is the virtio-net driver loaded?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: socket() takes no pointers; the fd is owned right below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context("opening a socket to configure the network");
    }
    // SAFETY: `raw` is a fresh, valid fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    set_up(&sock, "lo").context("bringing up lo")?;
    set_addr(&sock, &device, libc::SIOCSIFADDR, addr).with_context(|| format!("setting {addr} on {device}"))?;
    set_addr(&sock, &device, libc::SIOCSIFNETMASK, netmask(prefix)).with_context(|| format!("setting the netmask on {device}"))?;
    set_up(&sock, &device).with_context(|| format!("bringing up {device}"))?;
    Ok(device)
}

fn request(name: &str) -> Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= libc::IFNAMSIZ {
        bail!("interface name {name:?} is too long");
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

fn ioctl(sock: &OwnedFd, op: libc::c_ulong, req: &mut libc::ifreq) -> Result<()> {
    // SAFETY: `req` is a valid, initialized ifreq that lives across the call;
    // every request used here reads or writes only an ifreq.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), op, req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

fn set_addr(sock: &OwnedFd, name: &str, op: libc::c_ulong, addr: Ipv4Addr) -> Result<()> {
    let mut req = request(name)?;
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(addr).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size on Linux, and the
    // union field is written whole; the kernel reads it as a sockaddr_in.
    req.ifr_ifru.ifru_addr = unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) };
    ioctl(sock, op, &mut req)
}

fn set_up(sock: &OwnedFd, name: &str) -> Result<()> {
    let mut req = request(name)?;
    ioctl(sock, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    ioctl(sock, libc::SIOCSIFFLAGS, &mut req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_masks() {
        assert_eq!(parse_address("10.0.2.15/24").unwrap(), (Ipv4Addr::new(10, 0, 2, 15), 24));
        assert!(parse_address("10.0.2.15").is_err());
        assert!(parse_address("10.0.2.15/33").is_err());
        assert!(parse_address("host/24").is_err());
        assert_eq!(netmask(24), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(netmask(0), Ipv4Addr::new(0, 0, 0, 0));
        assert_eq!(netmask(32), Ipv4Addr::new(255, 255, 255, 255));
    }

    #[test]
    fn the_first_interface_that_is_not_loopback() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(first_device(names(&["lo", "eth0"])), Some("eth0".into()));
        assert_eq!(first_device(names(&["enp0s3", "lo", "eth1"])), Some("enp0s3".into()));
        assert_eq!(first_device(names(&["lo"])), None);
    }
}
