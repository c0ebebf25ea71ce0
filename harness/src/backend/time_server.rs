//! The host's NTP server for one run: chronyd in server-only mode (`-x`:
//! it never adjusts the host clock), on a free loopback port that QEMU's
//! user-mode network exposes to the guest as 10.0.2.2. It is a guest
//! process like QEMU: its own process group, killed with the harness
//! (PR_SET_PDEATHSIG), watched by the guardian, torn down when dropped.

use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::process::GuestProcess;
use crate::time_service::chrony::ChronyInstall;
use crate::time_service::{ntp, TimeServiceError};

/// How long the server has to answer its first query.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Stratum the server claims (`local stratum`): it serves the host's clock
/// without a source of its own, and the guest must accept it.
pub const LOCAL_STRATUM: u8 = 8;

/// A running server; dropping it stops it.
pub struct TimeServer {
    process: GuestProcess,
    pub port: u16,
    pub log: PathBuf,
}

/// The server's configuration. Pure.
pub fn server_config(port: u16, dir: &Path) -> String {
    format!(
        "# clockstorm's host NTP server for one run: serves this host's clock, never sets it (-x).\n\
         port {port}\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum {LOCAL_STRATUM}\ncmdport 0\npidfile {}\n",
        dir.join("chronyd-server.pid").display()
    )
}

/// chronyd's arguments for the server. Pure.
pub fn server_args(config: &Path, as_root: bool) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["-x", "-d", "-U"].iter().map(OsString::from).collect();
    if as_root {
        // Without -u, a root chronyd drops to its packaged user (_chrony),
        // which a host that never installed chrony does not have.
        args.extend(["-u".into(), "root".into()]);
    }
    args.extend(["-f".into(), config.as_os_str().to_owned()]);
    args
}

impl TimeServer {
    /// Starts the server with its files in `dir` (private) and its log at
    /// `log`, and waits until it answers.
    pub fn start(install: &ChronyInstall, dir: &Path, log: &Path) -> Result<TimeServer, TimeServiceError> {
        let port = free_udp_port()?;
        let config = dir.join("chronyd-server.conf");
        std::fs::write(&config, server_config(port, dir)).map_err(|source| TimeServiceError::Write { path: config.clone(), source })?;
        let as_root = nix::unistd::geteuid().is_root();
        let (mut process, _stdout) = GuestProcess::spawn(&install.chronyd, &server_args(&config, as_root), log, None)
            .map_err(|e| TimeServiceError::ServerFailed { reason: e.to_string(), log: String::new() })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let last = match ntp::query(addr, Duration::from_millis(200)) {
                Ok(_) => return Ok(TimeServer { process, port, log: log.to_owned() }),
                Err(e) => e,
            };
            if process.try_wait().is_some() || Instant::now() >= deadline {
                let _ = process.shutdown();
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                return Err(TimeServiceError::ServerFailed { reason: last, log: tail(&log_text, 5) });
            }
        }
    }

    /// Stops the server now (dropping it does the same).
    pub fn stop(mut self) {
        let _ = self.process.shutdown();
    }
}

/// A UDP port on loopback that was free a moment ago. chronyd binds it
/// itself; a race with another process shows as a server that fails to
/// start, with chrony's message.
fn free_udp_port() -> Result<u16, TimeServiceError> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|source| TimeServiceError::Run { what: "finding a free UDP port".into(), source })?;
    socket
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| TimeServiceError::Run { what: "finding a free UDP port".into(), source })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_serves_loopback_only_and_never_sets_the_clock() {
        let conf = server_config(40123, Path::new("/tmp/x"));
        for line in ["port 40123", "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 8", "cmdport 0", "pidfile /tmp/x/chronyd-server.pid"] {
            assert!(conf.lines().any(|l| l == line), "{line} missing from {conf}");
        }
        let args: Vec<String> = server_args(Path::new("/c"), true).iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["-x", "-d", "-U", "-u", "root", "-f", "/c"]);
        assert!(!server_args(Path::new("/c"), false).iter().any(|a| a == "-u"));
    }
}
