//! The fuzz targets' bodies: every input a user or a guest can feed, run
//! through the code that reads it in earnest, with the properties that must
//! hold for any input checked by assertions (a failed one is a finding, like
//! a panic). `fuzz/` (cargo-fuzz, nightly) calls these on generated inputs;
//! `tests/fuzz_corpus.rs` calls them on every kept corpus and regression
//! input on stable, so CI replays what the fuzzer found without a fuzzer.
//! Nothing else uses this module. See docs/fuzzing.md.

use std::collections::HashSet;
use std::time::Duration;

use clockstorm_protocol::{decode_guest, decode_host, encode_line, RunRecord};
use clockstorm_reports::kernel_events::{group, parse_message, Parser, MAX_MATCH_LEN};

use crate::event_stream::Event;
use crate::qemu::qmp::{self, Message};

/// A target's body: one input, checked.
pub type Target = fn(&[u8]);

/// Every target, by the name of its directory under `fuzz/corpus/` and
/// `fuzz/regressions/` and of its `fuzz/fuzz_targets/*.rs` file.
pub const TARGETS: &[(&str, Target)] = &[
    ("scenario_toml", scenario_toml),
    ("fault_spec", fault_spec),
    ("record_lines", record_lines),
    ("kernel_log", kernel_log),
    ("qmp_message", qmp_message),
    ("guest_protocol", guest_protocol),
];

/// A scenario file: parse and validate (faults expanded on the timeline
/// included), then the run matrix it declares, whose run ids name result
/// directories and so must be distinct.
pub fn scenario_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = match crate::scenario::parse(text, "fuzz.toml") {
        Ok(loaded) => loaded,
        Err(e) => return drop(e.to_string()),
    };
    let runs = crate::scenario::matrix::expand(&loaded.scenario);
    let mut ids = HashSet::new();
    for run in &runs {
        assert!(ids.insert(run.id.as_str()), "two runs of the matrix share the id {:?}", run.id);
    }
}

/// A `--fault` value: parsed, then expanded on a timeline as long as a
/// scenario may measure (a day), as a scenario's validation does.
pub fn fault_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let spec = match crate::faults::parse_fault(text) {
        Ok(spec) => spec,
        Err(e) => return drop(e.to_string()),
    };
    assert!(spec.count >= 1);
    if let Err(e) = crate::faults::expand(&[spec], 7, Duration::from_secs(86_400)) {
        drop(e.to_string());
    }
}

/// A record file: each line through the fast path and the serde path, which
/// must agree whenever the fast path takes a line; a line that reads must
/// read back the same once written again; then the whole file through the
/// report's streaming summarizer.
pub fn record_lines(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let fast = RunRecord::from_canonical_line(line);
        let serde = serde_json::from_slice::<RunRecord>(line);
        if let Some(fast) = &fast {
            match &serde {
                Ok(serde) => assert_eq!(fast, serde, "the fast path and serde read {:?} differently", String::from_utf8_lossy(line)),
                Err(e) => panic!("the fast path takes {:?}, serde rejects it: {e}", String::from_utf8_lossy(line)),
            }
        }
        if let Ok(record) = serde {
            let again = serde_json::to_vec(&record).expect("records serialize");
            assert_eq!(RunRecord::from_line(&again).ok().as_ref(), Some(&record), "{:?} does not read back", String::from_utf8_lossy(&again));
        }
    }
    crate::analysis::analyze_records(data).expect("reading from memory does not fail");
}

/// Kernel log text (console, dmesg, syslog, kmsg records): grouped into
/// events line by line, within the parser's linear work bound (the bound of
/// `reports/tests/kernel_events/props.rs`); each line also on its own.
pub fn kernel_log(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parser = Parser::new();
    let (mut lines, mut bytes) = (0u64, 0u64);
    for line in text.lines() {
        parser.push_line(line);
        lines += 1;
        bytes += line.len().min(MAX_MATCH_LEN) as u64;
        drop(parse_message(None, line));
    }
    parser.finish();
    let per_line = 2 + 8 * (group::MAX_PENDING as u64 + 2) + 2 * group::MAX_GROUP_SPAN;
    let bound = 2 * bytes + per_line * (lines + 1);
    assert!(parser.work() <= bound, "work {} over the linear bound {bound} ({lines} lines, {bytes} bytes)", parser.work());
}

/// Lines from QEMU's QMP socket, classified as the client does, and the
/// replies the client reads values from (greeting, query-status,
/// query-cpus-fast) read as it reads them.
pub fn qmp_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        match qmp::parse_line(line, "fuzz") {
            Ok(Message::Greeting(g)) => drop(qmp::parse_greeting(&g).map_err(|e| e.to_string())),
            Ok(Message::Return { value, .. }) => {
                drop(qmp::parse_status(&value).map_err(|e| e.to_string()));
                drop(qmp::parse_cpus_fast(&value).map_err(|e| e.to_string()));
            }
            Ok(Message::Error { .. } | Message::Event(_)) => {}
            Err(e) => drop(e.to_string()),
        }
    }
}

/// The data channel as the host's reader thread takes it (bounded lines, a
/// hello first, then guest messages; the real thread, over a socket pair):
/// it must end with `DataClosed`, and each message it passes on, encoded
/// again, must decode the same. Each line also as the probe would decode a
/// host message.
pub fn guest_protocol(data: &[u8]) {
    let events = crate::runner::read_channel(data).expect("a socket pair and a thread");
    assert!(matches!(events.last(), Some(Event::DataClosed)), "the reader did not end with DataClosed");
    for event in &events {
        if let Event::Guest(_, msg) = event {
            let again = encode_line(msg);
            assert_eq!(decode_guest(again.trim_end()).ok().as_ref(), Some(msg), "{again:?} does not decode back");
        }
    }
    for line in data.split(|&b| b == b'\n') {
        if let Ok(text) = std::str::from_utf8(line) {
            if let Ok(msg) = decode_host(text.trim()) {
                let again = encode_line(&msg);
                assert_eq!(decode_host(again.trim_end()).ok().as_ref(), Some(&msg), "{again:?} does not decode back");
            }
        }
    }
}
