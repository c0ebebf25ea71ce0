//! Full disks and hostile channels (issue 14): a results directory whose
//! filesystem fills mid-run ends the run cleanly, naming the path, with what
//! was written still readable; a guest that sends garbage, a line of
//! megabytes or a flood leaves the harness in bounded memory, with the
//! degraded state named and counted and its other measurements kept.

use std::path::{Path, PathBuf};
use std::process::Command;

use clockstorm_protocol::{ChannelHealth, HarnessEvent, RecordBody, RunOutcome};
use clockstorm_reports::RunSummary;

use crate::support::*;

/// The harness's peak RSS allowed under any hostile mode. A fake run peaks
/// at about 15 MiB; the reader holds at most a 256 KiB line and a 4 MiB
/// backlog (decoded, a few times that). A reader without bounds would hold
/// the 64 MiB line of `a_line_of_megabytes_...` (twice, as text and copy).
const PEAK_RSS_BOUND_KIB: u64 = 48 << 10;

/// A hostile run of 3 s on tsc; its summary and channel health.
fn hostile(model: &str) -> (tempfile::TempDir, RunSummary, ChannelHealth) {
    let (out, o) = fake(&["run", "idle", "--clocksource", "tsc", "--duration", "3s", "--fake-model", model]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("the data channel was degraded ("), "{}", text(&o));
    let s = summaries(out.path()).remove(0);
    assert_eq!(s.status, "completed", "{s:#?}");
    // The run's other measurements are kept.
    assert!(s.samples > 100 && s.windows >= 15 && s.exchanges >= 10, "{s:#?}");
    let h = s.channel.clone().expect("a channel_health record");
    let rss = h.harness_peak_rss_kib.expect("the harness measured its peak RSS");
    assert!(rss < PEAK_RSS_BOUND_KIB, "harness peak RSS {rss} KiB, bound {PEAK_RSS_BOUND_KIB} KiB: {h:#?}");
    eprintln!("{model}: harness peak RSS {rss} KiB, {h:?}");
    (out, s, h)
}

/// `clockstorm report DIR` renders and names the degraded channel.
fn report_names(dir: &Path, words: &str) {
    let o = Command::new(BIN).arg("report").arg(dir).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains(words), "{words:?}: {}", text(&o));
}

#[test]
fn garbage_on_the_channel_is_counted_skipped_and_named() {
    let (out, s, h) = hostile("garbage=40");
    assert_eq!(h.degraded(), vec!["malformed"], "{h:#?}");
    assert_eq!(h.malformed_lines, 40, "{h:#?}");
    assert!(h.first_offending.as_deref().is_some_and(|f| f.contains("\\x")), "random bytes, escaped: {h:#?}");
    // Only the first few are recorded one by one, cut short.
    let garbled = records(&records_path(out.path(), &s.run_id))
        .into_iter()
        .filter(|r| matches!(&r.body, RecordBody::Harness(HarnessEvent::Garbled { .. })))
        .count();
    assert_eq!(garbled, 16, "GARBLED_RECORDED (16) recorded, the rest only counted");
    report_names(out.path(), "data channel degraded (malformed): 40 malformed line(s) skipped");
}

#[test]
fn a_line_of_megabytes_is_discarded_in_bounded_memory() {
    let (out, _s, h) = hostile(&format!("long-line={}", 64 << 20));
    assert_eq!(h.degraded(), vec!["overlong"], "{h:#?}");
    assert_eq!(h.overlong_lines, 1);
    assert!(h.longest_line_bytes > 64 << 20, "{h:#?}");
    assert!(h.first_offending.as_deref().is_some_and(|f| f.starts_with("{\"type\":\"kernel_log\"")), "{h:#?}");
    report_names(out.path(), "1 over-long line(s) discarded (longest 64.0 MiB, cap 256 KiB)");
}

#[test]
fn a_flood_is_pushed_back_in_bounded_memory_and_named() {
    let (out, s, h) = hostile("flood=30000");
    // Every message is recorded: the channel pushes back rather than drops.
    assert!(h.messages > 30_000 && h.dropped_messages == 0, "{h:#?}");
    let states = h.degraded();
    assert!(states.contains(&"flood") || states.contains(&"backpressure"), "{h:#?}");
    let flood_lines = std::fs::read_to_string(records_path(out.path(), &s.run_id)).unwrap().matches("clockstorm-fake: flood ").count();
    assert_eq!(flood_lines, 30_000);
    report_names(out.path(), "data channel degraded (");
}

/// A tmpfs mounted for a test, unmounted when dropped (also on a failure);
/// the temp dir it is mounted in goes after it.
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    /// None (the test skips, saying why) when not root or mount fails.
    fn mount(size: &str) -> Option<Tmpfs> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(&path).output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(path, dir)),
            Ok(o) => {
                eprintln!("skipped: mount -t tmpfs failed: {}", String::from_utf8_lossy(&o.stderr).trim());
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_results_disk_that_fills_mid_run_ends_it_cleanly_and_keeps_what_was_written() {
    let Some(fs) = Tmpfs::mount("1m") else { return };
    // Leave 320 KiB: the harness holds 256 of it back for the run's end,
    // the manifest and the run's first seconds fit in the rest, a minute of
    // it does not (a fake run writes ~17 KiB/s).
    std::fs::write(fs.0.join("filler"), vec![0u8; (1 << 20) - (320 << 10)]).unwrap();
    let out = fs.0.join("out");
    let o = Command::new(BIN)
        .args(["run", "idle", "--clocksource", "tsc", "--duration", "60s"])
        .args(FAKE)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "the documented exit code of a results directory that cannot be written: {}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let path = records_path(&out, "idle-tsc");
    assert!(stderr.contains(&format!("writing {}: No space left on device", path.display())), "{}", text(&o));
    assert!(stderr.contains("guest torn down"), "{}", text(&o));
    let recs = records(&path);
    let guest = qemu_pid(&recs).expect("the guest's pid was recorded");
    assert!(!process_alive(guest), "the fake guest {guest} survived");
    // The space held back for the end let the run's last line and the manifest say why.
    let ended = |o: &Option<RunOutcome>| matches!(o, Some(RunOutcome::Failed { reason, .. }) if reason.contains("No space left on device"));
    assert!(ended(&outcome(&recs)), "{:?}", outcome(&recs));
    assert!(ended(&manifest(&out).runs[0].outcome), "{:?}", manifest(&out).runs[0].outcome);
    assert!(!out.join(".clockstorm-reserve").exists());
    // Everything written is still readable: the report renders from it.
    let r = Command::new(BIN).arg("report").arg(&out).output().unwrap();
    assert_eq!(r.status.code(), Some(1), "a failed run: {}", text(&r));
    let report = String::from_utf8_lossy(&r.stdout);
    assert!(report.contains("tsc  failed") && report.contains("No space left on device"), "{}", text(&r));
    let json = Command::new(BIN).arg("report").arg(&out).args(["--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(v["runs"][0]["samples"].as_u64().unwrap() > 100, "the measurements before the disk filled: {}", v["runs"][0]);
}
