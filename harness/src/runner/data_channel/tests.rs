use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::channel;

use clockstorm_protocol::*;

use super::*;

fn hello_line() -> String {
    encode_line(&GuestMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        probe_version: "test".into(),
        run_id: "r".into(),
        kernel_release: "6.1".into(),
        clocksource: ClocksourceState { current: "tsc".into(), available: vec!["tsc".into()] },
        vcpus: 1,
        tsc_flags: vec![],
        hz: Some(250),
        boottime_ns: 1,
        clocksource_settle_ms: 0,
        ptp_device: None,
        read_cost: ReadCost { clocks: vec![], rdtsc_ns: 1.0, reads: 1 },
        boot_phases: None,
    }))
}

/// Everything the reader sends for `input`, the data events unwrapped.
fn events_for(input: &[u8]) -> Vec<Event> {
    let (host, mut guest) = UnixStream::pair().unwrap();
    let (tx, rx) = channel();
    let (reader, _writer) = spawn_reader(host, tx).unwrap();
    guest.write_all(input).unwrap();
    drop(guest);
    let mut out = Vec::new();
    while let Ok(e) = rx.recv() {
        let closed = matches!(e, Event::DataClosed);
        out.push(match e {
            Event::Data(_credit, inner) => *inner,
            other => other,
        });
        if closed {
            break;
        }
    }
    reader.join().unwrap();
    out
}

fn health(events: &[Event]) -> ChannelHealth {
    events
        .iter()
        .find_map(|e| match e {
            Event::Harness(HarnessEvent::ChannelHealth(h)) => Some(h.clone()),
            _ => None,
        })
        .expect("the health comes last")
}

#[test]
fn garbage_and_an_overlong_line_are_counted_and_the_messages_around_them_kept() {
    let ping = encode_line(&GuestMessage::Ping { seq: 1, t1_ns: 2 });
    let mut input = hello_line().into_bytes();
    input.extend(b"\xff\xfe not text\n");
    input.extend(b"{\"type\":\"nonsense\"}\n");
    input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES * 3));
    input.extend(b"\n");
    input.extend(ping.as_bytes());
    let events = events_for(&input);
    let guest: Vec<&GuestMessage> = events.iter().filter_map(|e| if let Event::Guest(_, m) = e { Some(m) } else { None }).collect();
    assert!(matches!(guest[..], [GuestMessage::Hello(_), GuestMessage::Ping { seq: 1, .. }]), "{guest:?}");
    let garbled: Vec<&String> = events.iter().filter_map(|e| if let Event::Garbled { line, .. } = e { Some(line) } else { None }).collect();
    assert_eq!(garbled.len(), 3, "{garbled:?}");
    assert_eq!(garbled[0], "\\xff\\xfe not text");
    assert!(garbled[2].len() <= HEAD_BYTES * 4 + 3, "an over-long line is recorded by its head only");
    let h = health(&events);
    assert_eq!((h.messages, h.malformed_lines, h.overlong_lines), (2, 2, 1), "{h:#?}");
    assert_eq!(h.longest_line_bytes, (MAX_LINE_BYTES * 3) as u64);
    assert_eq!(h.first_offending.as_deref(), Some("\\xff\\xfe not text"));
    assert_eq!(h.degraded(), vec!["malformed", "overlong"]);
    assert!(h.harness_peak_rss_kib.is_some());
}

#[test]
fn garbage_is_recorded_only_while_it_is_rare() {
    let mut input = hello_line().into_bytes();
    for _ in 0..100 {
        input.extend(b"not json\n");
    }
    let events = events_for(&input);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Garbled { .. })).count() as u64, GARBLED_RECORDED);
    assert_eq!(health(&events).malformed_lines, 100);
}

#[test]
fn garbage_before_the_hello_is_a_protocol_error() {
    let events = events_for(b"\x00\x01garbage\n");
    assert!(matches!(&events[0], Event::Protocol(m) if m.contains("not a hello") && m.contains("\\x00\\x01garbage")), "{events:?}");
}
