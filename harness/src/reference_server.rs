//! `clockstorm reference-server`: the host end of the NTP-style exchange over
//! TCP, for `guest-probe --standalone --reference HOST:PORT` running in a real
//! VM (or anywhere else). It answers every ping with the host's
//! CLOCK_REALTIME, stamped the moment the line is read.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use clockstorm_protocol::{decode_guest, encode_line, GuestMessage, HostMessage};

use crate::event_stream::HostStamp;

/// How often the accept loop checks for Ctrl-C.
const ACCEPT_POLL: Duration = Duration::from_millis(50);
/// A connection silent this long is closed (a probe pings every 100 ms).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves until `stop` returns true. Each connection gets its own thread.
pub fn serve(listener: TcpListener, stop: impl Fn() -> bool) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut workers = Vec::new();
    while !stop() {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                workers.push(std::thread::Builder::new().name("clockstorm-reference".into()).spawn(move || answer(stream))?);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(ACCEPT_POLL),
            Err(e) => return Err(e),
        }
        workers.retain(|w| !w.is_finished());
    }
    Ok(())
}

/// Answers pings on one connection until it closes or idles out.
fn answer(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let stamp = HostStamp::now();
        if let Some(pong) = pong_for(line.trim(), stamp.realtime_ns) {
            if writer.write_all(pong.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// The answer to one line: a pong for a ping, nothing for anything else. Pure.
pub fn pong_for(line: &str, t2_ns: i64) -> Option<String> {
    match decode_guest(line) {
        Ok(GuestMessage::Ping { seq, .. }) => Some(encode_line(&HostMessage::Pong { seq, t2_ns })),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_get_pongs_with_the_host_stamp_and_other_lines_nothing() {
        let ping = encode_line(&GuestMessage::Ping { seq: 42, t1_ns: 1 });
        assert_eq!(pong_for(ping.trim(), 7).unwrap(), "{\"type\":\"pong\",\"seq\":42,\"t2_ns\":7}\n");
        assert_eq!(pong_for("garbage", 7), None);
        assert_eq!(pong_for(encode_line(&GuestMessage::Failure { message: "x".into() }).trim(), 7), None);
    }

    #[test]
    fn a_probe_over_tcp_gets_answers() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = {
            let stop = stop.clone();
            std::thread::spawn(move || serve(listener, move || stop.load(std::sync::atomic::Ordering::Relaxed)))
        };
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(encode_line(&GuestMessage::Ping { seq: 1, t1_ns: 0 }).as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(client.try_clone().unwrap()).read_line(&mut reply).unwrap();
        assert!(reply.contains("\"seq\":1"), "{reply}");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        server.join().unwrap().unwrap();
    }
}
