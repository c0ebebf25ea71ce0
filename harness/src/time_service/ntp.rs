//! A minimal SNTP query (RFC 4330): is the host's server answering, and
//! at which stratum. Used once per run, to know the server is up before
//! the guest boots.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// The request: LI 0, version 4, mode 3 (client); the rest zero.
pub fn request() -> [u8; 48] {
    let mut packet = [0u8; 48];
    packet[0] = 0b00_100_011;
    packet
}

/// The stratum of a server reply, or why it is not one. Pure.
pub fn parse_reply(reply: &[u8]) -> Result<u8, String> {
    if reply.len() < 48 {
        return Err(format!("a reply of {} bytes (an NTP packet has 48)", reply.len()));
    }
    let mode = reply[0] & 0b111;
    if mode != 4 {
        return Err(format!("a reply in mode {mode} (a server answers in mode 4)"));
    }
    match reply[1] {
        0 => Err("a kiss-o'-death reply (stratum 0)".into()),
        stratum => Ok(stratum),
    }
}

/// One query to `server`, waiting up to `timeout` for the answer.
pub fn query(server: SocketAddr, timeout: Duration) -> Result<u8, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("binding a UDP socket: {e}"))?;
    socket.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    socket.send_to(&request(), server).map_err(|e| format!("sending to {server}: {e}"))?;
    let mut buf = [0u8; 512];
    let (n, _) = socket.recv_from(&mut buf).map_err(|e| format!("no answer from {server}: {e}"))?;
    parse_reply(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_told_from_anything_else() {
        let mut reply = [0u8; 48];
        reply[0] = 0b00_100_100;
        reply[1] = 8;
        assert_eq!(parse_reply(&reply), Ok(8));
        reply[1] = 0;
        assert!(parse_reply(&reply).unwrap_err().contains("kiss"));
        assert!(parse_reply(&request()).unwrap_err().contains("mode 3"));
        assert!(parse_reply(&reply[..10]).unwrap_err().contains("10 bytes"));
    }

    #[test]
    fn a_silent_port_is_no_server() {
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = query(silent.local_addr().unwrap(), Duration::from_millis(50)).unwrap_err();
        assert!(e.contains("no answer"), "{e}");
    }
}
