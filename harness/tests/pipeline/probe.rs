//! The probe standalone on this host, against the reference server: no
//! guest involved.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockstorm_protocol::{GuestMessage, ProbeOutcome};

use crate::support::*;

/// The static probe `ci/build.sh` builds; it also runs on this host.
fn static_probe() -> PathBuf {
    let bin = PathBuf::from(BIN);
    let target = bin.ancestors().nth(2).unwrap();
    let probe = target.join("x86_64-unknown-linux-gnu/probe/guest-probe");
    assert!(probe.is_file(), "{} missing: run ci/build.sh", probe.display());
    probe
}

/// Kills a child when dropped (the reference server).
struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn standalone_probe_measures_this_host_against_the_reference_server() {
    let mut server = Command::new(BIN).args(["reference-server", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let _server = KillOnDrop(server);
    let addr = first.trim().strip_prefix("listening on ").expect(&first).to_owned();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("probe.jsonl");
    let o = Command::new(static_probe())
        .args(["--standalone", "--duration", "2s", "--reference", &addr, "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let msgs: Vec<GuestMessage> = std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(matches!(msgs[0], GuestMessage::Hello(_)), "{:?}", msgs[0]);
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::Synced(_))));
    let exchanges: Vec<_> = msgs.iter().filter_map(|m| if let GuestMessage::Exchange(e) = m { Some(*e) } else { None }).collect();
    assert!(exchanges.len() >= 10, "{}", exchanges.len());
    // Loopback TCP: the round trip is tens of µs; 1 ms bounds it with room.
    let mut unc: Vec<i64> = exchanges.iter().map(|e| e.uncertainty_ns).collect();
    unc.sort();
    assert!(unc[unc.len() / 2] < 1_000_000, "{unc:?}");
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::Window(w) if w.samples > 0)));
    assert!(msgs.iter().any(|m| matches!(m, GuestMessage::TickWindow(t) if t.expirations > 0)));
    assert!(matches!(msgs.last(), Some(GuestMessage::Done(d)) if d.outcome == ProbeOutcome::Completed), "{:?}", msgs.last());
    imports_and_reports(&file, out.path());
}

#[test]
fn standalone_probe_refuses_bad_arguments_and_an_absent_reference() {
    let o = Command::new(static_probe()).args(["--standalone", "--duration", "fast"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--duration \"fast\""), "{}", text(&o));
    // Port 1 on loopback: nothing listens, the connect is refused at once.
    let o = Command::new(static_probe()).args(["--standalone", "--reference", "127.0.0.1:1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("connecting to the reference server at 127.0.0.1:1"), "{}", text(&o));
}

#[test]
fn a_reference_that_never_answers_is_a_clear_error_not_a_hang() {
    // Accepts the connection and then says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    // One initial exchange, so the test waits one pong timeout (2 s), not eight.
    let defaults = r#"{"protocol_version":2,"run_id":"silent","expected_clocksource":null,"duration_ms":1000,"window_ms":100,
        "exchange_interval_ms":100,"initial_sync_exchanges":1,"gap_event_threshold_ns":10000000,"burst_after_gap_ns":50000000,
        "burst_exchanges":5,"clocks":["monotonic"],"tick_rate_hz":1000,"poll_interval_ms":100,"forward_kmsg":false,
        "data_device":{"kind":"isa-serial","path":""},"modules":[]}"#;
    std::fs::write(&config, defaults).unwrap();
    let started = Instant::now();
    let o = Command::new(static_probe())
        .args(["--standalone", "--reference", &addr, "--out", "/dev/null", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the host answered none of 1 initial exchanges"), "{}", text(&o));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    drop(silent);
}

/// This machine's name, as the provenance should give it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_owned()
}

/// The fleet path after the probe: `import-standalone`, then `report` in
/// every file format, as an operator would with a real VM's probe output.
/// Called by `standalone_probe_measures_this_host_against_the_reference_server`,
/// with its reference server still up, so that only one probe spins this machine's
/// CPUs at a time (two at once starve the reference server's answers).
fn imports_and_reports(file: &std::path::Path, work: &std::path::Path) {
    let out = work.join("results");
    let host = hostname();
    let o = Command::new(BIN)
        .args(["import-standalone", "--machine", &host, "--reference-here", "--out"])
        .arg(&out)
        .arg(file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for name in ["manifest.json", "report.json", "report.md", "report.html", "summary.json"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }

    let report = |format: &str| {
        let o = Command::new(BIN).args(["report", "--format", format]).arg(&out).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{format}: {}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    let run = &json["runs"][0];
    let (samples, exchanges) = (run["samples"].as_u64().unwrap(), run["exchanges"].as_u64().unwrap());
    let uncertainty = run["offset_uncertainty_median_ns"].as_i64().unwrap();
    eprintln!(
        "standalone on loopback: {samples} samples, {exchanges} exchanges, median offset uncertainty {uncertainty} ns, offset median {} ns",
        run["offset_median_ns"]
    );
    assert_eq!(run["status"], "completed", "{run}");
    assert!(samples > 0 && exchanges >= 10, "{run}");
    // How tight it is on loopback the probe's own check above bounds; here: it is the report's figure.
    assert!(uncertainty > 0, "{uncertainty}");
    // No harness saw the lines arrive: no wall time or overhead is claimed.
    assert!(run["wall_ms"].is_null() && run["overhead_ms"].is_null(), "{run}");

    let p = &json["provenance"];
    assert_eq!(p["accel"], "standalone");
    assert_eq!(p["scenario"]["name"], "standalone");
    let machine = &p["standalone"]["machines"][0];
    assert_eq!(machine["name"], host.as_str());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap().trim().to_owned();
    assert_eq!(machine["kernel_release"], release.as_str());
    assert_eq!(p["standalone"]["reference_host"], host.as_str());
    // --reference-here: the reference server's machine (this one) is the host.
    assert_eq!(p["host"]["kernel_release"], release.as_str());

    let markdown = report("markdown");
    assert!(markdown.contains(&format!("- machine {host} (run ")), "{markdown}");
    assert!(markdown.contains(&format!("- reference host {host} ")), "{markdown}");
    let html = report("html");
    assert!(html.contains("<dt>standalone</dt>") && html.contains(&format!("machine {host} (run ")), "html provenance");
    assert!(report("terminal").starts_with(&format!("machine {host} (run ")));

    // The same directory is not imported over.
    let o = Command::new(BIN).args(["import-standalone", "--out"]).arg(&out).arg(file).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn import_standalone_names_the_file_and_line_of_bad_input_and_exits_2() {
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("notes.txt");
    std::fs::write(&bad, "just some text\n").unwrap();
    let o = Command::new(BIN).args(["import-standalone", "--out"]).arg(work.path().join("r")).arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains(&format!("{}:1: not a `guest-probe --standalone` output", bad.display())), "{stderr}");
    assert!(!work.path().join("r").join("manifest.json").exists(), "nothing written for bad input");
    let empty = work.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let o = Command::new(BIN).args(["import-standalone", "--out"]).arg(work.path().join("r")).arg(&empty).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty.jsonl: empty"), "{}", text(&o));
}
