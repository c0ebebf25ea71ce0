use super::*;

fn hello() -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        probe_version: "0.1.0".into(),
        run_id: "tsc-0".into(),
        kernel_release: "6.1.0-50-cloud-amd64".into(),
        clocksource: ClocksourceState { current: "tsc".into(), available: vec!["tsc".into(), "hpet".into()] },
        vcpus: 1,
        tsc_flags: vec!["tsc".into()],
        hz: Some(250),
        boottime_ns: 1_500_000_000,
        clocksource_settle_ms: 0,
    }
}

#[test]
fn every_guest_message_round_trips_through_one_line() {
    let msgs = vec![
        GuestMessage::Hello(hello()),
        GuestMessage::Ping { seq: 3, t1_ns: 1_700_000_000_000_000_000 },
        GuestMessage::Exchange(Exchange::from_timestamps(3, 10, 25, 30)),
        GuestMessage::ReadCost(ReadCost { clock_gettime_monotonic_ns: 94.5, rdtsc_ns: 10.25, reads: 1000 }),
        GuestMessage::Window(Window {
            index: 1, start_ns: 1, end_ns: 2, samples: 3, max_gap_ns: 4, max_gap_at_ns: 5,
            backwards_steps: 6, worst_backwards_ns: 7, tsc_backwards_steps: 8, tsc_ticks: 9, dropped_windows: 10,
        }),
        GuestMessage::Gap(Gap { at_ns: 1, gap_ns: 2 }),
        GuestMessage::Done(Done {
            outcome: ProbeOutcome::ClocksourceNotHonored { requested: "hpet".into(), got: "tsc".into() },
            samples: 1, windows: 2, dropped_windows: 0, exchanges: 4, peak_rss_kib: 900, cpu_user_ms: 1, cpu_system_ms: 2,
        }),
        GuestMessage::Failure { message: "no data channel".into() },
    ];
    for msg in msgs {
        let line = encode_line(&msg);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{line}");
        assert_eq!(decode_guest(line.trim_end()).unwrap(), msg);
    }
    let pong = HostMessage::Pong { seq: 9, t2_ns: -5 };
    assert_eq!(decode_host(encode_line(&pong).trim_end()).unwrap(), pong);
}

#[test]
fn exchange_offset_and_uncertainty_follow_the_ntp_definition() {
    // Guest sends at 100, host stamps 1_000_150, guest receives at 300:
    // midpoint 200, so the host is 1_000_150 - 200 ahead, within +-100.
    let e = Exchange::from_timestamps(1, 100, 1_000_150, 300);
    assert_eq!(e.offset_ns, 999_950);
    assert_eq!(e.uncertainty_ns, 100);
    // Realistic epoch stamps must not overflow.
    let t = 1_764_000_000_000_000_000i64;
    let e = Exchange::from_timestamps(2, t, t + 5_000_000_050, t + 101);
    assert_eq!(e.offset_ns, 5_000_000_000);
    assert_eq!(e.uncertainty_ns, 50);
}

#[test]
fn a_probe_of_another_version_is_refused_with_a_version_error() {
    let mut h = hello();
    h.protocol_version = PROTOCOL_VERSION + 1;
    let line = encode_line(&GuestMessage::Hello(h));
    let err = check_hello_version(line.trim_end()).unwrap_err();
    assert!(matches!(err, DecodeError::VersionMismatch { .. }), "{err}");
    assert!(err.to_string().contains("rebuild the guest probe"));
    // Even when the rest of the message no longer fits our types.
    let err = check_hello_version(r#"{"type":"hello","protocol_version":99,"new_field":1}"#).unwrap_err();
    assert!(matches!(err, DecodeError::VersionMismatch { probe: 99, .. }), "{err}");
}

#[test]
fn first_message_must_be_hello() {
    let line = encode_line(&GuestMessage::Ping { seq: 0, t1_ns: 0 });
    assert!(matches!(check_hello_version(line.trim_end()), Err(DecodeError::NotHello(_))));
    assert!(matches!(check_hello_version("not json"), Err(DecodeError::Malformed { .. })));
}

#[test]
fn config_rejects_unknown_keys() {
    let cfg = ProbeConfig {
        protocol_version: PROTOCOL_VERSION,
        run_id: "r".into(),
        expected_clocksource: Some("hpet".into()),
        duration_ms: 1000,
        window_ms: 100,
        exchange_interval_ms: 100,
        initial_sync_exchanges: 8,
        gap_event_threshold_ns: 10_000_000,
        data_device: DataDevice::IsaSerial { path: "/dev/ttyS1".into() },
        modules: vec![],
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<ProbeConfig>(&json).unwrap(), cfg);
    let bad = json.replacen('{', r#"{"surprise":1,"#, 1);
    assert!(serde_json::from_str::<ProbeConfig>(&bad).unwrap_err().to_string().contains("surprise"));
}

#[test]
fn records_round_trip() {
    let recs = vec![
        RunRecord { host_realtime_ns: 1, host_monotonic_ns: 2, body: RecordBody::Guest(GuestMessage::Hello(hello())) },
        RunRecord {
            host_realtime_ns: 3,
            host_monotonic_ns: 4,
            body: RecordBody::Harness(HarnessEvent::RunFinished(RunOutcome::Failed {
                reason: "kernel panic".into(),
                console_tail: vec!["Kernel panic - not syncing".into()],
            })),
        },
    ];
    for r in recs {
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RunRecord>(&s).unwrap(), r);
    }
}
