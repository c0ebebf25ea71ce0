//! The probe standalone on this host, and `import-standalone`: the bad
//! inputs and the reference that never answers. The measurement against the
//! reference server (loopback timing) runs in the serial `guests` binary.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

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
