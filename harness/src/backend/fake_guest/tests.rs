//! The fake guest end to end, in-process: this test plays the harness (it
//! listens on the data socket, answers pings at once, sends beacons, drives
//! QMP through the harness's own client) and checks what the fake says.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clockstorm_protocol::{
    decode_guest, encode_line, ClockId, DataDevice, GuestMessage, HostMessage, ProbeConfig, ProbeOutcome, PROTOCOL_VERSION, SENTINEL_SUCCESS,
};

use super::{run_guest, FakeGuestArgs, HostClock, Options, Outcome, RealHost};
use crate::qemu::qmp::Qmp;

/// How long any one expected message may take to come.
const WAIT: Duration = Duration::from_secs(10);

/// The console, kept for the test to read.
#[derive(Clone, Default)]
struct SharedConsole(Arc<Mutex<Vec<u8>>>);

impl Write for SharedConsole {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedConsole {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn config(duration_ms: u64) -> ProbeConfig {
    ProbeConfig {
        protocol_version: PROTOCOL_VERSION,
        run_id: "fake-test".into(),
        expected_clocksource: Some("tsc".into()),
        duration_ms,
        window_ms: 100,
        exchange_interval_ms: 100,
        initial_sync_exchanges: 4,
        gap_event_threshold_ns: 10_000_000,
        burst_after_gap_ns: 50_000_000,
        burst_exchanges: 3,
        clocks: ClockId::ALL.to_vec(),
        tick_rate_hz: 1000,
        poll_interval_ms: 100,
        forward_kmsg: true,
        benchmark_phase_ms: None,
        data_device: DataDevice::IsaSerial { path: "/dev/ttyS1".into() },
        modules: vec![],
        time_service: None,
        shm_reference: false,
    }
}

/// The harness's side of one fake guest.
struct Harness {
    _dir: tempfile::TempDir,
    qmp_socket: std::path::PathBuf,
    writer: Arc<Mutex<UnixStream>>,
    messages: Receiver<GuestMessage>,
    console: SharedConsole,
    /// Every message received so far.
    seen: Mutex<Vec<GuestMessage>>,
    run: JoinHandle<Outcome>,
}

impl Harness {
    fn start(config: &ProbeConfig, vcpus: u32, model: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let data_socket = dir.path().join("data.sock");
        let qmp_socket = dir.path().join("qmp.sock");
        let config_path = dir.path().join("probe-config.json");
        std::fs::write(&config_path, serde_json::to_vec(config).unwrap()).unwrap();
        let listener = UnixListener::bind(&data_socket).unwrap();
        let args = FakeGuestArgs {
            data_socket,
            qmp_socket: qmp_socket.clone(),
            config: config_path,
            kernel_release: "6.1.0-test".into(),
            vcpus,
            model: model.into(),
        };
        let console = SharedConsole::default();
        let options = Options { console: Box::new(console.clone()), host: Arc::new(RealHost), own_process: false };
        let run = std::thread::spawn(move || run_guest(&args, options));
        let stream = accept(&listener);
        let writer = Arc::new(Mutex::new(stream.try_clone().unwrap()));
        let messages = spawn_reader(stream, writer.clone());
        Harness { _dir: dir, qmp_socket, writer, messages, console, seen: Mutex::default(), run }
    }

    fn qmp(&self) -> Qmp {
        Qmp::connect(&self.qmp_socket, WAIT, || true).unwrap()
    }

    fn send(&self, msg: &HostMessage) {
        self.writer.lock().unwrap().write_all(encode_line(msg).as_bytes()).unwrap();
    }

    /// The next message `pick` accepts, skipping (and returning) the others.
    fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&GuestMessage) -> Option<T>) -> (T, Vec<GuestMessage>) {
        let deadline = Instant::now() + WAIT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.messages.recv_timeout(left).unwrap_or_else(|e| panic!("no {what} ({e}); console:\n{}", self.console.text()));
            self.seen.lock().unwrap().push(msg.clone());
            match pick(&msg) {
                Some(t) => return (t, skipped),
                None => skipped.push(msg),
            }
        }
    }

    fn finish(self) -> (Outcome, String) {
        let outcome = self.run.join().unwrap();
        (outcome, self.console.text())
    }
}

fn accept(listener: &UnixListener) -> UnixStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("the fake did not connect: {e}"),
        }
    }
}

/// Reads the fake's lines; answers pings at once, as the harness does.
fn spawn_reader(stream: UnixStream, writer: Arc<Mutex<UnixStream>>) -> Receiver<GuestMessage> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let msg = decode_guest(&line).unwrap_or_else(|e| panic!("the fake sent a line the harness cannot read: {e}"));
            if let GuestMessage::Ping { seq, .. } = msg {
                let t2_ns = RealHost.realtime_ns();
                let _ = writer.lock().unwrap().write_all(encode_line(&HostMessage::Pong { seq, t2_ns }).as_bytes());
            }
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    rx
}

fn thread_exists(tid: u32) -> bool {
    Path::new(&format!("/proc/self/task/{tid}")).exists()
}

#[test]
fn a_fake_guest_runs_the_probe_protocol_through_a_pause() {
    let h = Harness::start(&config(1_500), 2, "");
    let (hello, before) = h.wait_for("hello", |m| match m {
        GuestMessage::Hello(hello) => Some(hello.clone()),
        _ => None,
    });
    assert!(before.is_empty(), "hello comes first: {before:?}");
    assert_eq!((hello.protocol_version, hello.run_id.as_str(), hello.vcpus), (PROTOCOL_VERSION, "fake-test", 2));
    assert_eq!((hello.kernel_release.as_str(), hello.clocksource.current.as_str()), ("6.1.0-test", "tsc"));
    assert!(hello.probe_version.starts_with("fake-"));
    assert_eq!(hello.read_cost.clocks.len(), 3);

    let mut qmp = h.qmp();
    assert_eq!(qmp.version(), "7.2.0");
    let cpus = qmp.query_cpus_fast().unwrap();
    assert_eq!(cpus.iter().map(|c| c.cpu_index).collect::<Vec<_>>(), vec![0, 1]);
    assert!(cpus.iter().all(|c| thread_exists(c.thread_id)), "query-cpus-fast names the vCPU threads: {cpus:?}");
    assert!(matches!(qmp.execute("no-such-command", None), Err(crate::qemu::qmp::QmpError::Command { .. })));

    let (synced, exchanges) = h.wait_for("synced", |m| match m {
        GuestMessage::Synced(s) => Some(*s),
        _ => None,
    });
    let initial = exchanges.iter().filter(|m| matches!(m, GuestMessage::Exchange(_))).count();
    assert_eq!(initial, 4, "{exchanges:?}");
    // The guest's RTC started 0.3-1.3 s behind; the step puts it on host time.
    assert!((300_000_000..1_400_000_000).contains(&synced.step_ns), "{synced:?}");

    h.send(&HostMessage::Beacon { seq: 7 });
    let (beacon, _) = h.wait_for("beacon", |m| match m {
        GuestMessage::Beacon(b) => Some(b.clone()),
        _ => None,
    });
    assert_eq!((beacon.seq, beacon.samplers.len()), (7, 2));
    let (window, _) = h.wait_for("a window", |m| match m {
        GuestMessage::Window(w) => Some(*w),
        _ => None,
    });
    assert!(window.samples > 100 && window.backwards_steps == 0 && window.tsc_ticks > 0, "{window:?}");

    // A pause: nothing answers while it lasts, and the guest loses it.
    assert!(qmp.stop().unwrap().is_some(), "STOP event");
    assert_eq!(qmp.query_status().unwrap(), ("paused".to_string(), false));
    std::thread::sleep(Duration::from_millis(20));
    h.seen.lock().unwrap().extend(h.messages.try_iter());
    h.send(&HostMessage::Beacon { seq: 8 });
    std::thread::sleep(Duration::from_millis(400));
    let during: Vec<_> = h.messages.try_iter().collect();
    assert!(during.is_empty(), "a paused guest is silent: {during:?}");
    assert!(qmp.cont().unwrap().is_some(), "RESUME event");
    let (late, _) = h.wait_for("the beacon sent during the pause", |m| match m {
        GuestMessage::Beacon(b) => Some(b.seq),
        _ => None,
    });
    assert_eq!(late, 8);
    // An exchange in flight across the pause saw no pause at all (the
    // guest's clock stood still through it); the first one pinged after it
    // shows the time lost.
    let (ping, _) = h.wait_for("a ping after the pause", |m| match m {
        GuestMessage::Ping { seq, .. } => Some(*seq),
        _ => None,
    });
    let (last_exchange, _) = h.wait_for("an exchange after the pause", |m| match m {
        GuestMessage::Exchange(e) if e.seq == ping => Some(*e),
        _ => None,
    });
    assert!((380_000_000..600_000_000).contains(&last_exchange.offset_ns), "the pause was lost: {last_exchange:?}");

    let (done, _) = h.wait_for("done", |m| match m {
        GuestMessage::Done(d) => Some(d.clone()),
        _ => None,
    });
    assert_eq!(done.outcome, ProbeOutcome::Completed);
    assert!(done.samples > 1_000 && done.windows >= 10 && done.exchanges >= 5, "{done:?}");
    let all = h.seen.lock().unwrap().clone();
    assert!(all.iter().any(|m| matches!(m, GuestMessage::TickWindow(t) if t.expirations > 0)), "tick windows");
    assert!(all.iter().any(|m| matches!(m, GuestMessage::KernelCounters(k) if k.local_timer_interrupts.len() == 2)), "counters");
    assert!(
        all.iter().any(|m| matches!(m, GuestMessage::KernelLog(l) if l.message == "clocksource: Switched to clocksource tsc")),
        "the boot log is forwarded"
    );
    drop(qmp);
    let (outcome, console) = h.finish();
    assert_eq!(outcome, Outcome::Success, "{console}");
    assert!(console.starts_with("[    0.000000] Linux version 6.1.0-test"), "{console}");
    assert!(console.lines().any(|l| l == SENTINEL_SUCCESS), "{console}");
}

#[test]
fn a_refused_clocksource_ends_after_hello_as_the_probe_does() {
    let h = Harness::start(&config(5_000), 1, "honor=no");
    let (hello, _) = h.wait_for("hello", |m| match m {
        GuestMessage::Hello(hello) => Some(hello.clone()),
        _ => None,
    });
    assert_eq!(hello.clocksource.current, "hpet");
    let (done, skipped) = h.wait_for("done", |m| match m {
        GuestMessage::Done(d) => Some(d.outcome.clone()),
        _ => None,
    });
    assert!(skipped.is_empty(), "no sync, nothing measured: {skipped:?}");
    assert_eq!(done, ProbeOutcome::ClocksourceNotHonored { requested: "tsc".into(), got: "hpet".into() });
    let (outcome, console) = h.finish();
    assert_eq!(outcome, Outcome::Success);
    assert!(console.contains(SENTINEL_SUCCESS));
}

#[test]
fn a_harness_that_hangs_up_ends_the_fake_with_the_failure_sentinel() {
    let h = Harness::start(&config(60_000), 1, "");
    h.wait_for("hello", |m| matches!(m, GuestMessage::Hello(_)).then_some(()));
    h.writer.lock().unwrap().shutdown(std::net::Shutdown::Both).unwrap();
    let started = Instant::now();
    let (outcome, console) = h.finish();
    assert!(started.elapsed() < Duration::from_secs(5), "it ends promptly");
    let Outcome::Failure(reason) = outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("closed the data channel"), "{reason}");
    assert!(console.contains("clockstorm-probe: done: failure: the host closed the data channel"), "{console}");
}

#[test]
fn quit_ends_the_run_at_once() {
    let h = Harness::start(&config(60_000), 1, "");
    h.wait_for("hello", |m| matches!(m, GuestMessage::Hello(_)).then_some(()));
    h.qmp().quit().unwrap();
    let (outcome, console) = h.finish();
    assert_eq!(outcome, Outcome::Quit);
    assert!(!console.contains("clockstorm-probe: done"), "QEMU quits without the guest's say: {console}");
}

#[test]
fn bad_model_text_fails_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let args = FakeGuestArgs {
        data_socket: dir.path().join("data.sock"),
        qmp_socket: dir.path().join("qmp.sock"),
        config: dir.path().join("missing.json"),
        kernel_release: "6.1.0-test".into(),
        vcpus: 1,
        model: "pause=sometimes".into(),
    };
    let console = SharedConsole::default();
    let outcome = run_guest(&args, Options { console: Box::new(console.clone()), host: Arc::new(RealHost), own_process: false });
    let Outcome::Failure(reason) = &outcome else { panic!("{outcome:?}") };
    assert!(reason.contains("pause=sometimes"), "{reason}");
    assert_eq!(outcome.exit_code(), 1);
    assert!(console.text().starts_with("clockstorm-probe: done: failure: fake model: pause=sometimes"), "{}", console.text());
    assert!(!args.qmp_socket.exists(), "nothing was opened");
}
