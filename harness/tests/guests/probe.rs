//! A whole-QEMU SIGSTOP on a real guest shows up as a gap and as missed
//! timer wake-ups, while the guest clock itself loses nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clockstorm_protocol::{GuestMessage, RecordBody};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::support::*;

/// Continues a stopped QEMU when dropped, so a failing test never leaves it stopped.
struct ContinueOnDrop(i32);
impl Drop for ContinueOnDrop {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0), Signal::SIGCONT);
    }
}

/// A 2 s SIGSTOP of the whole QEMU: host time runs on and the guest's
/// clocks jump forward with it on resume (docs/clock-model.md, "Whole-VM freeze").
#[test]
fn a_two_second_sigstop_of_qemu_is_a_two_second_gap_and_two_seconds_of_missed_timer_wakeups() {
    const FREEZE: Duration = Duration::from_secs(2);
    // The scenario's timer rate: the default.
    let rate = clockstorm_protocol::DEFAULT_TICK_RATE_HZ as f64;
    for clocksource in ["tsc", "hpet"] {
        let out = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["run", "idle", "--clocksource", clocksource, "--duration", "6s", "--out"])
            .arg(out.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let records_file = records_path(out.path(), &format!("idle-{clocksource}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let qemu = loop {
            let recs = records(&records_file);
            let windows = recs.iter().filter(|r| matches!(r.body, RecordBody::Guest(GuestMessage::Window(_)))).count();
            // ~1 s of measuring before the freeze.
            if windows >= 10 {
                break qemu_pid(&recs).unwrap();
            }
            assert!(Instant::now() < deadline, "guest never measured");
            std::thread::sleep(Duration::from_millis(20));
        };
        {
            let _cont = ContinueOnDrop(qemu as i32);
            kill(Pid::from_raw(qemu as i32), Signal::SIGSTOP).unwrap();
            std::thread::sleep(FREEZE);
        }
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(0), "{stderr}");
        let s = summaries(out.path()).remove(0);
        let ctx = format!("{clocksource}: {s:#?}");
        // The gap is the freeze, give or take the time to deliver the signals
        // and one sampler window's scheduling noise (measured: < 10 ms idle).
        let gap = s.max_gap_ns.unwrap();
        assert!((1_950_000_000..2_300_000_000).contains(&gap), "{ctx}");
        let ticks = s.ticks.clone().unwrap();
        // 2 s of expirations (500 at 250 Hz) passed while the probe could
        // not run, all in the timer window the resume ended. Read per window:
        // an idle 6 s run here missed 530-680 wake-ups elsewhere too at
        // 1 kHz (measured, with and without the shared-memory reference
        // alike), which pushed the run's total past 2.4 s of them in two CI
        // runs.
        // (A window's counts run since the timer started: per window, the
        // difference to the one before.)
        let windows: Vec<(u64, u64)> = records(&records_file)
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Guest(GuestMessage::TickWindow(t)) => Some((t.expirations, t.wakeups)),
                _ => None,
            })
            .collect();
        let freeze_window = windows.windows(2).map(|w| (w[1].0 - w[0].0).saturating_sub(w[1].1 - w[0].1)).max().unwrap();
        let missed_s = freeze_window as f64 / rate;
        assert!((1.7..2.4).contains(&missed_s), "{freeze_window} missed in one window at {rate} Hz: {ctx}");
        assert!(ticks.timer_missed_wakeups >= freeze_window, "{ctx}");
        // Yet the guest clock jumped forward with the host: the kernel counted
        // every expiration, and jiffies caught up, so neither has a backlog.
        let timer = ticks.timer_expirations.unwrap();
        assert!(timer.total.abs() / rate < 0.020, "{ctx}");
        let jiffies = ticks.jiffies.unwrap();
        assert!(jiffies.total.abs() < 5.0, "{ctx}");
        // No time lost: the offset stays where the sync put it.
        assert!(s.offset_median_ns.unwrap().abs() < 5_000_000, "{ctx}");
        assert_eq!(s.backwards_steps, 0, "{ctx}");
    }
}
