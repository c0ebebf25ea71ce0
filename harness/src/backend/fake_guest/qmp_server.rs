//! The fake's QMP server: "QEMU", not the guest, so it always runs (a
//! frozen or paused guest still answers QMP, as QEMU's main loop does). One
//! client at a time, as `-qmp unix:...,server=on,wait=off`; the commands the
//! harness uses, answered as QEMU 7.2 answers them: `stop` and `cont` emit
//! their STOP / RESUME event before the return (and nothing when the VM is
//! already in that state), `quit` emits SHUTDOWN, returns and exits.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use super::guest::{Ending, Guest};

/// What the greeting says: the QEMU version whose QMP this one mirrors.
const QEMU_VERSION: (u64, u64, u64) = (7, 2, 0);
const PACKAGE: &str = "clockstorm fake guest";
/// How often a quiet server looks up to see whether the guest ended.
const POLL: Duration = Duration::from_millis(50);

/// What `quit` does: exit the process (the fake is its own process, as
/// QEMU is), or end the run (the fake runs inside a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnQuit {
    ExitProcess,
    EndRun,
}

/// Starts serving `listener` (already bound: QEMU listens before the guest boots).
pub fn spawn(guest: Arc<Guest>, listener: UnixListener, vcpu_tids: Vec<u32>, on_quit: OnQuit) -> std::io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    std::thread::Builder::new().name("fake-qmp".into()).spawn(move || {
        while !guest.is_shut_down() {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = Session { guest: &guest, vcpu_tids: &vcpu_tids, on_quit, negotiated: false }.serve(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(_) => std::thread::sleep(POLL),
            }
        }
    })
}

struct Session<'a> {
    guest: &'a Guest,
    vcpu_tids: &'a [u32],
    on_quit: OnQuit,
    negotiated: bool,
}

impl Session<'_> {
    /// Serves one client until it hangs up (or the guest ends).
    fn serve(mut self, stream: UnixStream) -> std::io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(POLL))?;
        let mut out = stream.try_clone()?;
        let (major, minor, micro) = QEMU_VERSION;
        let greeting =
            json!({"QMP": {"version": {"qemu": {"micro": micro, "minor": minor, "major": major}, "package": PACKAGE}, "capabilities": ["oob"]}});
        write_line(&mut out, &greeting)?;
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while !self.guest.is_shut_down() {
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(()),
                Ok(_) if line.last() != Some(&b'\n') => return Ok(()),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => continue,
                Err(e) => return Err(e),
            }
            let text = String::from_utf8_lossy(&line).trim().to_owned();
            line.clear();
            if text.is_empty() {
                continue;
            }
            for reply in self.answer(&text) {
                write_line(&mut out, &reply)?;
            }
            if self.quitting(&text) {
                match self.on_quit {
                    OnQuit::ExitProcess => std::process::exit(0),
                    OnQuit::EndRun => {
                        self.guest.end(Ending::Quit);
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    fn quitting(&self, text: &str) -> bool {
        self.negotiated && serde_json::from_str::<Value>(text).is_ok_and(|v| v["execute"] == "quit")
    }

    /// The lines answering one request: events it caused, then its reply.
    fn answer(&mut self, text: &str) -> Vec<Value> {
        let request: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return vec![error(None, "GenericError", "QMP input must be a JSON object")],
            Err(e) => return vec![error(None, "GenericError", &format!("JSON parse error, {e}"))],
        };
        let id = request.get("id").cloned();
        let Some(command) = request.get("execute").and_then(Value::as_str) else {
            return vec![error(id, "GenericError", "QMP input member 'execute' is missing")];
        };
        if !self.negotiated && command != "qmp_capabilities" {
            return vec![error(id, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'")];
        }
        let clock = &self.guest.clock;
        let mut lines = Vec::new();
        let value = match command {
            "qmp_capabilities" if self.negotiated => {
                return vec![error(id, "CommandNotFound", "Capabilities negotiation is already complete, command ignored")];
            }
            "qmp_capabilities" => {
                self.negotiated = true;
                json!({})
            }
            "query-cpus-fast" => Value::Array(self.vcpu_tids.iter().enumerate().map(|(i, tid)| cpu_entry(i, *tid)).collect()),
            "query-status" => {
                let running = !clock.is_paused();
                json!({"status": if running { "running" } else { "paused" }, "singlestep": false, "running": running})
            }
            "query-version" => {
                let (major, minor, micro) = QEMU_VERSION;
                json!({"qemu": {"micro": micro, "minor": minor, "major": major}, "package": PACKAGE})
            }
            "stop" => {
                if clock.pause() {
                    lines.push(self.event("STOP", None));
                }
                json!({})
            }
            "cont" => {
                if clock.resume().is_some() {
                    lines.push(self.event("RESUME", None));
                }
                json!({})
            }
            "quit" => {
                lines.push(self.event("SHUTDOWN", Some(json!({"guest": false, "reason": "host-qmp-quit"}))));
                json!({})
            }
            other => return vec![error(id, "CommandNotFound", &format!("The command {other} has not been found"))],
        };
        let mut reply = json!({"return": value});
        if let Some(id) = id {
            reply["id"] = id;
        }
        lines.push(reply);
        lines
    }

    /// An event stamped with host CLOCK_REALTIME, as QEMU stamps them.
    fn event(&self, name: &str, data: Option<Value>) -> Value {
        let now = self.guest.clock.host().realtime_ns();
        let mut e = json!({"event": name, "timestamp": {"seconds": now.div_euclid(1_000_000_000), "microseconds": now.rem_euclid(1_000_000_000) / 1000}});
        if let Some(data) = data {
            e["data"] = data;
        }
        e
    }
}

fn cpu_entry(index: usize, tid: u32) -> Value {
    json!({
        "cpu-index": index,
        "qom-path": format!("/machine/unattached/device[{index}]"),
        "thread-id": tid,
        "props": {"core-id": 0, "thread-id": 0, "socket-id": index},
        "target": "x86_64",
    })
}

fn error(id: Option<Value>, class: &str, desc: &str) -> Value {
    let mut e = json!({"error": {"class": class, "desc": desc}});
    if let Some(id) = id {
        e["id"] = id;
    }
    e
}

/// QEMU ends every line with CRLF.
fn write_line(out: &mut UnixStream, value: &Value) -> std::io::Result<()> {
    out.write_all(format!("{value}\r\n").as_bytes())
}
