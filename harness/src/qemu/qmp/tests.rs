//! Tests against a scripted fake QMP server on a Unix socket in a tempdir.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;

/// What QEMU 7.2.0 sends first (one line, `\r\n`-terminated).
const GREETING: &str =
    r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7 "}, "capabilities": ["oob"]}}"#;

/// A handler reply that makes the fake close the connection instead.
const HANG_UP: &str = "<hang up>";

/// Connect timeout for tests where the server is already listening.
const TEST_CONNECT: Duration = Duration::from_secs(5);

/// Decides the lines the fake answers one received command with; an empty
/// vector means "never answer".
type Handler = Box<dyn FnMut(&Value) -> Vec<String> + Send>;

/// A fake QEMU: accepts one connection, greets, answers with a handler, and
/// returns every request it received once the client hangs up.
struct FakeQemu {
    path: PathBuf,
    _dir: tempfile::TempDir,
    thread: Option<JoinHandle<Vec<Value>>>,
}

impl FakeQemu {
    fn start(greeting: &'static str, mut handler: Handler) -> FakeQemu {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            if !greeting.is_empty() {
                write!(out, "{greeting}\r\n").unwrap();
            }
            let mut received = Vec::new();
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let request: Value = serde_json::from_str(&line).unwrap();
                received.push(request.clone());
                for reply in handler(&request) {
                    if reply == HANG_UP {
                        return received;
                    }
                    if write!(out, "{reply}\r\n").is_err() {
                        break;
                    }
                }
            }
            received
        });
        FakeQemu { path, _dir: dir, thread: Some(thread) }
    }

    /// Waits for the client to hang up; returns the requests received.
    fn finish(mut self, qmp: Qmp) -> Vec<Value> {
        drop(qmp);
        self.thread.take().unwrap().join().unwrap()
    }
}

fn ret(request: &Value, value: Value) -> String {
    json!({"return": value, "id": request["id"]}).to_string()
}

fn event(name: &str, seconds: i64, micros: i64, data: Option<Value>) -> String {
    let mut e = json!({"event": name, "timestamp": {"seconds": seconds, "microseconds": micros}});
    if let Some(data) = data {
        e["data"] = data;
    }
    e.to_string()
}

/// Behaves like QEMU 7.2 for the commands the harness uses, plus `hang`
/// (never answered until the next command, which first gets the stale reply)
/// and `later` (returns, then emits an event).
fn qemu_like() -> Handler {
    let mut hung: Option<Value> = None;
    let mut running = false;
    Box::new(move |req| {
        let mut out = Vec::new();
        if let Some(stale) = hung.take() {
            out.push(json!({"return": {"stale": true}, "id": stale}).to_string());
        }
        match req["execute"].as_str().unwrap() {
            "qmp_capabilities" => out.push(ret(req, json!({}))),
            "query-status" => {
                out.push(event("NIC_RX_FILTER_CHANGED", 1, 2, Some(json!({"path": "/x"}))));
                let status = if running { "running" } else { "paused" };
                out.push(ret(req, json!({"status": status, "singlestep": false, "running": running})));
            }
            "stop" => {
                if running {
                    out.push(event("STOP", 1_700_000_000, 123_456, None));
                }
                running = false;
                out.push(ret(req, json!({})));
            }
            "cont" => {
                // Event after the return: exercises the grace wait.
                out.push(ret(req, json!({})));
                if !running {
                    out.push(event("RESUME", 1_700_000_001, 5, None));
                }
                running = true;
            }
            "query-cpus-fast" => out.push(ret(
                req,
                json!([
                    {"thread-id": 4242, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0},
                     "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
                    {"thread-id": 4243, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 1},
                     "qom-path": "/machine/unattached/device[1]", "cpu-index": 1, "target": "x86_64"}
                ]),
            )),
            "later" => {
                out.push(ret(req, json!({})));
                out.push(event("DEVICE_DELETED", 5, 6, Some(json!({"path": "/dev"}))));
            }
            "echo" => out.push(ret(req, req["arguments"].clone())),
            "hang" => hung = Some(req["id"].clone()),
            "garbage" => out.push("this is not json".into()),
            other => out.push(
                json!({"id": req["id"], "error": {"class": "CommandNotFound", "desc": format!("The command {other} has not been found")}}).to_string(),
            ),
        }
        out
    })
}

fn connect(fake: &FakeQemu) -> Qmp {
    Qmp::connect(&fake.path, TEST_CONNECT, || true).unwrap()
}

#[test]
fn handshake_reads_version_and_negotiates() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let qmp = connect(&fake);
    assert_eq!(qmp.version(), "7.2.0");
    assert_eq!(qmp.version_numbers(), (7, 2, 0));
    assert_eq!(qmp.package(), "Debian 1:7.2+dfsg-7");
    assert_eq!(qmp.capabilities(), ["oob".to_string()]);
    let received = fake.finish(qmp);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["execute"], "qmp_capabilities");
    assert!(received[0]["id"].is_u64());
}

#[test]
fn event_before_return_is_buffered_not_lost() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    assert_eq!(qmp.query_status().unwrap(), ("paused".to_string(), false));
    assert_eq!(qmp.query_status().unwrap(), ("paused".to_string(), false));
    let events = qmp.take_events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].name, "NIC_RX_FILTER_CHANGED");
    assert_eq!(events[0].timestamp_us, 1_000_002);
    assert_eq!(events[0].data, json!({"path": "/x"}));
    assert!(qmp.take_events().is_empty());
    fake.finish(qmp);
}

#[test]
fn arguments_are_sent_and_ids_increase() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    let args = json!({"device": "x", "n": 3});
    assert_eq!(qmp.execute("echo", Some(args.clone())).unwrap(), args);
    assert_eq!(qmp.execute("echo", None).unwrap(), Value::Null);
    let received = fake.finish(qmp);
    assert_eq!(received[1]["arguments"], args);
    assert!(received[2].get("arguments").is_none());
    let ids: Vec<u64> = received.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn error_reply_names_command_class_and_desc() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    let err = qmp.execute("bogus-cmd", None).unwrap_err();
    match &err {
        QmpError::Command { command, class, desc } => {
            assert_eq!(command, "bogus-cmd");
            assert_eq!(class, "CommandNotFound");
            assert_eq!(desc, "The command bogus-cmd has not been found");
        }
        other => panic!("expected Command error, got {other:?}"),
    }
    assert!(err.to_string().contains("bogus-cmd"), "{err}");
    // The session is still usable.
    assert!(qmp.query_status().is_ok());
    fake.finish(qmp);
}

#[test]
fn unanswered_command_times_out_and_late_reply_is_discarded() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    qmp.set_timeout(Duration::from_millis(150));
    assert_eq!(qmp.timeout(), Duration::from_millis(150));
    let started = Instant::now();
    let err = qmp.execute("hang", None).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, QmpError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("hang"), "{err}");
    assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(1), "{took:?}");
    // The fake now sends the stale reply to `hang` first; it must not be
    // taken as the answer to this command.
    qmp.set_timeout(DEFAULT_COMMAND_TIMEOUT);
    assert_eq!(qmp.query_status().unwrap(), ("paused".to_string(), false));
    fake.finish(qmp);
}

#[test]
fn stop_and_cont_return_event_timestamps() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    // RESUME arrives after the return: picked up within the grace.
    assert_eq!(qmp.cont().unwrap(), Some(1_700_000_001_000_005));
    assert_eq!(qmp.query_status().unwrap(), ("running".to_string(), true));
    // STOP arrives before the return.
    assert_eq!(qmp.stop().unwrap(), Some(1_700_000_000_123_456));
    // Already paused: no event, so None after the short grace.
    let started = Instant::now();
    assert_eq!(qmp.stop().unwrap(), None);
    assert!(started.elapsed() < Duration::from_secs(1));
    // The state events were consumed; the other events stay.
    let names: Vec<String> = qmp.take_events().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["NIC_RX_FILTER_CHANGED"]);
    fake.finish(qmp);
}

#[test]
fn stop_ignores_a_stop_event_buffered_before_it() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    qmp.cont().unwrap();
    qmp.stop().unwrap();
    qmp.cont().unwrap();
    // Plant an old STOP in the buffer (as if the guest had paused earlier).
    qmp.events.push_back(QmpEvent { name: "STOP".into(), timestamp_us: 1, data: Value::Null });
    assert_eq!(qmp.stop().unwrap(), Some(1_700_000_000_123_456));
    assert_eq!(qmp.take_events()[0].timestamp_us, 1);
    fake.finish(qmp);
}

#[test]
fn wait_event_reads_later_events_and_times_out() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    qmp.execute("later", None).unwrap();
    qmp.query_status().unwrap(); // buffers DEVICE_DELETED, then NIC_RX_FILTER_CHANGED
    let e = qmp.wait_event("DEVICE_DELETED", Duration::from_secs(2)).unwrap();
    assert_eq!(e.timestamp_us, 5_000_006);
    assert_eq!(e.data, json!({"path": "/dev"}));
    let started = Instant::now();
    let err = qmp.wait_event("SHUTDOWN", Duration::from_millis(100)).unwrap_err();
    assert!(matches!(err, QmpError::Timeout { .. }) && err.to_string().contains("SHUTDOWN"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Non-matching events stayed buffered.
    assert_eq!(qmp.take_events().len(), 1);
    fake.finish(qmp);
}

#[test]
fn poll_events_picks_up_events_sent_while_idle() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    qmp.execute("later", None).unwrap();
    // The DEVICE_DELETED line follows the return; give it time to arrive.
    std::thread::sleep(Duration::from_millis(50));
    let events = qmp.poll_events().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].name, "DEVICE_DELETED");
    assert!(qmp.poll_events().unwrap().is_empty());
    fake.finish(qmp);
}

#[test]
fn query_cpus_fast_parses_qemu_7_2_reply() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    let cpus = qmp.query_cpus_fast().unwrap();
    assert_eq!(cpus, [VcpuThread { cpu_index: 0, thread_id: 4242 }, VcpuThread { cpu_index: 1, thread_id: 4243 }]);
    fake.finish(qmp);
}

#[test]
fn garbage_line_is_a_protocol_error() {
    let fake = FakeQemu::start(GREETING, qemu_like());
    let mut qmp = connect(&fake);
    let err = qmp.execute("garbage", None).unwrap_err();
    match &err {
        QmpError::Protocol { what, line } => {
            assert!(what.contains("garbage"), "{what}");
            assert_eq!(line, "this is not json");
        }
        other => panic!("expected Protocol error, got {other:?}"),
    }
    fake.finish(qmp);
}

#[test]
fn connection_closed_is_an_io_error_and_quit_tolerates_it() {
    // Answers capabilities, then hangs up on anything.
    let handler: Handler = Box::new(|req| if req["execute"] == "qmp_capabilities" { vec![ret(req, json!({}))] } else { vec![HANG_UP.to_string()] });
    let fake = FakeQemu::start(GREETING, handler);
    let mut qmp = connect(&fake);
    let err = qmp.query_status().unwrap_err();
    assert!(err.is_closed(), "{err:?}");
    assert!(err.to_string().contains("query-status"), "{err}");
    // The socket is gone; quit still counts as done.
    qmp.quit().unwrap();
    let received = fake.finish(qmp);
    assert_eq!(received[1]["execute"], "query-status");
}

#[test]
fn connect_retries_until_the_socket_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qmp.sock");
    let server_path = path.clone();
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let listener = UnixListener::bind(&server_path).unwrap();
        let (stream, _) = listener.accept().unwrap();
        let mut out = stream.try_clone().unwrap();
        write!(out, "{GREETING}\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        let req: Value = serde_json::from_str(&line).unwrap();
        write!(out, "{}\r\n", ret(&req, json!({}))).unwrap();
    });
    let mut polls = 0;
    let qmp = Qmp::connect(&path, TEST_CONNECT, || {
        polls += 1;
        true
    })
    .unwrap();
    assert_eq!(qmp.version(), "7.2.0");
    assert!(polls > 1, "alive() polled {polls} times");
    server.join().unwrap();
}

#[test]
fn connect_gives_up_at_once_when_qemu_is_dead() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = Qmp::connect(&dir.path().join("qmp.sock"), Duration::from_secs(30), || false).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match &err {
        QmpError::Connect { why, source, .. } => {
            assert!(why.contains("exited"), "{why}");
            assert_eq!(source.as_ref().unwrap().kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Connect error, got {other:?}"),
    }
}

#[test]
fn connect_times_out_without_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = Qmp::connect(&dir.path().join("qmp.sock"), Duration::from_millis(100), || true).unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(1), "{took:?}");
    assert!(matches!(err, QmpError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("qmp.sock"), "{err}");
}

#[test]
fn connect_retries_a_stale_socket_file() {
    // A socket file nobody listens on (left by an earlier QEMU): refused.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qmp.sock");
    drop(UnixListener::bind(&path).unwrap());
    let err = Qmp::connect(&path, Duration::from_millis(50), || true).unwrap_err();
    match &err {
        QmpError::Connect { source, .. } => {
            assert_eq!(source.as_ref().unwrap().kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("expected Connect error, got {other:?}"),
    }
}

#[test]
fn missing_greeting_times_out_within_the_connect_timeout() {
    // Accepts but never greets (e.g. another client already holds QMP).
    let fake = FakeQemu::start("", qemu_like());
    let started = Instant::now();
    let err = Qmp::connect(&fake.path, Duration::from_millis(150), || true).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(&err, QmpError::Timeout { what } if what.contains("greeting")), "{err:?}");
    fake.thread.unwrap().join().unwrap();
}

#[test]
fn partial_line_survives_a_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qmp.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut out: UnixStream = stream.try_clone().unwrap();
        write!(out, "{GREETING}\r\n").unwrap();
        let mut lines = BufReader::new(stream).lines();
        let caps: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        write!(out, "{}\r\n", ret(&caps, json!({}))).unwrap();
        let req: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        let reply = ret(&req, json!({"status": "running", "singlestep": false, "running": true}));
        let (head, tail) = reply.split_at(10);
        out.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        write!(out, "{tail}\r\n").unwrap();
        let _ = lines.next();
    });
    let mut qmp = Qmp::connect(&path, TEST_CONNECT, || true).unwrap();
    qmp.set_timeout(Duration::from_millis(50));
    assert!(matches!(qmp.query_status(), Err(QmpError::Timeout { .. })));
    // The first half is kept; the next read completes the (stale) line, which
    // is then recognised by id and skipped by wait_event.
    assert!(matches!(qmp.wait_event("STOP", Duration::from_millis(300)), Err(QmpError::Timeout { .. })));
    assert!(qmp.partial.is_empty());
    drop(qmp);
    server.join().unwrap();
}

#[test]
fn excerpt_truncates_on_char_boundary() {
    let long = "é".repeat(400);
    let short = message::excerpt(&long);
    assert!(short.len() < 400 && short.ends_with("(800 bytes)"), "{short}");
    assert_eq!(message::excerpt("abc"), "abc");
}

/// Found writing the `qmp_message` fuzz target: an event timestamp whose
/// seconds times 10^6 overflow i64 panicked in a debug build (wrapped in a
/// release build) instead of being a protocol error.
#[test]
fn an_event_timestamp_out_of_range_is_a_protocol_error_not_an_overflow() {
    let line = r#"{"event":"STOP","timestamp":{"seconds":9223372036854775807,"microseconds":0}}"#;
    let err = parse_line(line, "test").unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let line = r#"{"event":"STOP","timestamp":{"seconds":9223372036854,"microseconds":9223372036854775807}}"#;
    assert!(parse_line(line, "test").is_err());
    let ok = r#"{"event":"STOP","timestamp":{"seconds":1700000000,"microseconds":5}}"#;
    assert!(matches!(parse_line(ok, "test"), Ok(Message::Event(e)) if e.timestamp_us == 1_700_000_000_000_005));
}
