//! The client against a real `qemu-system-x86_64` (TCG, no guest: `-S`
//! keeps it paused in "prelaunch", and `cont` runs only the firmware).
//! Fails when QEMU is not installed (ci/setup-host.sh installs it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

/// The QEMU binary the harness drives.
const QEMU: &str = "qemu-system-x86_64";

/// How long QEMU may take to create its QMP socket and greet. Under TCG with
/// no guest it is ready in ~100 ms; 10 s absorbs a cold page cache or a busy
/// CI host without letting a broken setup hang the test.
const QEMU_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long QEMU may take to exit after `quit`; it exits at once (tens of ms).
const QEMU_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How far a STOP/RESUME timestamp may be from the host's clock read just
/// after the command: the event is stamped by QEMU's `g_get_real_time()`
/// while the command runs, so they differ by the round trip (ms); 1 s allows
/// for a descheduled test thread.
const EVENT_CLOCK_TOLERANCE_US: i64 = 1_000_000;

/// Kills and reaps QEMU when dropped, so a failing assertion leaves nothing
/// running.
struct QemuGuard(Child);

impl Drop for QemuGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The version `qemu-system-x86_64 --version` prints ("QEMU emulator version
/// 7.2.22 (Debian ...)" → "7.2.22"), or `None` when QEMU is not installed.
fn installed_qemu_version() -> Option<String> {
    let out = Command::new(QEMU).arg("--version").stderr(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next()?.strip_prefix("QEMU emulator version ")?;
    Some(version.split_whitespace().next()?.to_string())
}

fn realtime_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

fn assert_near_now(timestamp_us: Option<i64>, what: &str) {
    let ts = timestamp_us.unwrap_or_else(|| panic!("{what}: no event timestamp"));
    let skew = realtime_us() - ts;
    assert!((0..EVENT_CLOCK_TOLERANCE_US).contains(&skew), "{what}: event at {ts} µs is {skew} µs before now");
}

#[test]
fn real_qemu_session() {
    // ci/setup-host.sh installs QEMU; without it this test fails, it does not skip.
    let expected_version = installed_qemu_version().unwrap_or_else(|| panic!("{QEMU} is not installed: run ci/setup-host.sh"));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("qmp.sock");
    let stderr = std::fs::File::create(dir.path().join("qemu.stderr")).unwrap();
    let child = Command::new(QEMU)
        .args(["-machine", "q35,accel=tcg", "-nodefaults", "-display", "none", "-no-user-config", "-S", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut qemu = QemuGuard(child);
    let pid = qemu.0.id();

    let mut qmp = Qmp::connect(&socket, QEMU_READY_TIMEOUT, || matches!(qemu.0.try_wait(), Ok(None))).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.path().join("qemu.stderr")).unwrap_or_default();
        panic!("{e}\nQEMU stderr:\n{log}")
    });
    assert_eq!(qmp.version(), expected_version);
    assert!(qmp.version().starts_with("7."), "{}", qmp.version());

    assert_eq!(qmp.query_status().unwrap(), ("prelaunch".to_string(), false));

    let resumed = qmp.cont().unwrap();
    assert_near_now(resumed, "cont");
    assert_eq!(qmp.query_status().unwrap(), ("running".to_string(), true));
    // Already running: QEMU emits no RESUME, so there is no timestamp.
    assert_eq!(qmp.cont().unwrap(), None);

    let stopped = qmp.stop().unwrap();
    assert_near_now(stopped, "stop");
    assert!(stopped.unwrap() >= resumed.unwrap());
    assert_eq!(qmp.query_status().unwrap(), ("paused".to_string(), false));
    assert_eq!(qmp.stop().unwrap(), None);
    // STOP and RESUME were consumed by stop()/cont().
    let stray: Vec<String> = qmp.take_events().into_iter().map(|e| e.name).collect();
    assert!(!stray.iter().any(|n| n == "STOP" || n == "RESUME"), "{stray:?}");

    let cpus = qmp.query_cpus_fast().unwrap();
    assert_eq!(cpus.len(), 1, "{cpus:?}");
    assert_eq!(cpus[0].cpu_index, 0);
    let task = format!("/proc/{pid}/task/{}", cpus[0].thread_id);
    assert!(Path::new(&task).exists(), "{task} does not exist");
    assert_ne!(cpus[0].thread_id, pid, "vCPU runs on its own thread, not QEMU's main thread");

    let err = qmp.execute("no-such-command", None).unwrap_err();
    assert!(matches!(&err, QmpError::Command { class, .. } if class == "CommandNotFound"), "{err:?}");

    qmp.quit().unwrap();
    let shutdown = qmp.wait_event("SHUTDOWN", Duration::from_secs(1)).unwrap();
    assert_eq!(shutdown.data["reason"], "host-qmp-quit");
    let deadline = Instant::now() + QEMU_EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = qemu.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "QEMU still running {QEMU_EXIT_TIMEOUT:?} after quit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "QEMU exited with {status}");
    // The connection is gone now.
    assert!(qmp.query_status().unwrap_err().is_closed());
}
