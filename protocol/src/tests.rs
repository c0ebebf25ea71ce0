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
        ptp_device: None,
        read_cost: ReadCost { clocks: vec![(ClockId::Monotonic, 94.5), (ClockId::Realtime, 95.0)], rdtsc_ns: 10.25, reads: 1000 },
        boot_phases: Some(BootPhases {
            probe_started_ns: 2_100_000_000,
            modules_loaded_ns: 2_200_000_000,
            channel_open_ns: 2_250_000_000,
            clocksource_settled_ns: 2_260_000_000,
        }),
    }
}

#[test]
fn every_guest_message_round_trips_through_one_line() {
    let msgs = vec![
        GuestMessage::Hello(hello()),
        GuestMessage::Ping { seq: 3, t1_ns: 1_700_000_000_000_000_000 },
        GuestMessage::Exchange(Exchange::from_timestamps(3, 10, 25, 30)),
        GuestMessage::Window(Window {
            index: 1,
            cpu: 0,
            clock: Some(ClockId::MonotonicRaw),
            start_ns: 1,
            end_ns: 2,
            samples: 3,
            delta: DeltaStats { p50_ns: 1, p99_ns: 2, p999_ns: 3, max_ns: 4 },
            max_gap_ns: 4,
            max_gap_at_ns: 5,
            backwards_steps: 6,
            worst_backwards_ns: 7,
            tsc_reads: 2,
            tsc_backwards_steps: 8,
            tsc_ticks: 9,
            clock_elapsed_ns: 3,
            warps: 1,
            worst_warp_ns: 2,
            dropped_so_far: 10,
        }),
        GuestMessage::Gap(Gap { cpu: 1, at_ns: 1, gap_ns: 2 }),
        GuestMessage::TickWindow(TickWindow {
            index: 3,
            rate_hz: 1000,
            mono_ns: 5,
            realtime_ns: 6,
            expirations: 100,
            wakeups: 99,
            latency: LatencyStats { samples: 99, p50_ns: 1, p99_ns: 2, max_ns: 3 },
        }),
        GuestMessage::KernelCounters(KernelCounters {
            mono_ns: 1,
            realtime_ns: 2,
            local_timer_interrupts: vec![10, 20],
            jiffies: Some(Jiffies { value: 4_295_000_000, realtime_ns: 3 }),
            steal_ticks: None,
        }),
        GuestMessage::KernelLog(KernelLog {
            seq: 1,
            ts_us: 1_500_000,
            level: 4,
            message: "clocksource: Switched to clocksource hpet".into(),
            read_realtime_ns: None,
        }),
        GuestMessage::ClocksourceChanged(ClocksourceChange { mono_ns: 1, old: "tsc".into(), new: "hpet".into() }),
        GuestMessage::ActionResult(ActionResult {
            id: 1,
            action: Action::UnbindClocksource { name: "tsc".into() },
            mono_ns: 2,
            error: None,
            clocksource_after: "hpet".into(),
        }),
        GuestMessage::PtpOffset(PtpReading { mono_ns: 1, offset_ns: -2, uncertainty_ns: 3, precise: true }),
        GuestMessage::Done(Done {
            outcome: ProbeOutcome::ClocksourceNotHonored { requested: "hpet".into(), got: "tsc".into() },
            samples: 1,
            windows: 2,
            dropped: Dropped { sampler: 1, ticks: 2, kernel: 3 },
            exchanges: 4,
            exchanges_lost: 0,
            shm_exchanges: 0,
            shm_exchanges_lost: 0,
            peak_rss_kib: 900,
            cpu_user_ms: 1,
            cpu_system_ms: 2,
        }),
        GuestMessage::Failure { message: "no data channel".into() },
        GuestMessage::Degraded { component: "ptp".into(), reason: "ENODEV".into() },
    ];
    for msg in msgs {
        let line = encode_line(&msg);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{line}");
        assert_eq!(decode_guest(line.trim_end()).unwrap(), msg);
    }
    for host in [HostMessage::Pong { seq: 9, t2_ns: -5 }, HostMessage::Action { id: 2, action: Action::SetClocksource { name: "hpet".into() } }] {
        assert_eq!(decode_host(encode_line(&host).trim_end()).unwrap(), host);
    }
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
        burst_after_gap_ns: 50_000_000,
        burst_exchanges: 5,
        clocks: ClockId::ALL.to_vec(),
        tick_rate_hz: 1000,
        poll_interval_ms: 100,
        forward_kmsg: true,
        benchmark_phase_ms: None,
        data_device: DataDevice::IsaSerial { path: "/dev/ttyS1".into() },
        modules: vec![],
        time_service: None,
        shm_reference: false,
    };
    assert_eq!(cfg.validate(), Ok(()));
    let impossible = ProbeConfig { tick_rate_hz: 1_000_000, ..cfg.clone() };
    let err = impossible.validate().unwrap_err();
    assert_eq!(err, ConfigError { field: "tick_rate_hz", message: "1000000 is outside 0..=10000 (0: no periodic timer)".into() });
    assert_eq!(err.to_string(), "tick_rate_hz: 1000000 is outside 0..=10000 (0: no periodic timer)");
    let no_clocks = ProbeConfig { clocks: vec![], ..cfg.clone() };
    assert_eq!(no_clocks.validate().unwrap_err().field, "clocks");
    let json = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<ProbeConfig>(&json).unwrap(), cfg);
    let bad = json.replacen('{', r#"{"surprise":1,"#, 1);
    assert!(serde_json::from_str::<ProbeConfig>(&bad).unwrap_err().to_string().contains("surprise"));
}

#[test]
fn config_errors_name_the_field_as_serde_does() {
    let cfg = ProbeConfig {
        protocol_version: PROTOCOL_VERSION,
        run_id: "r".into(),
        expected_clocksource: None,
        duration_ms: 1000,
        window_ms: 100,
        exchange_interval_ms: 100,
        initial_sync_exchanges: 8,
        gap_event_threshold_ns: 10_000_000,
        burst_after_gap_ns: 50_000_000,
        burst_exchanges: 5,
        clocks: ClockId::ALL.to_vec(),
        tick_rate_hz: 1000,
        poll_interval_ms: 100,
        forward_kmsg: true,
        benchmark_phase_ms: None,
        data_device: DataDevice::IsaSerial { path: "/dev/ttyS1".into() },
        modules: vec![],
        time_service: None,
        shm_reference: false,
    };
    let json = serde_json::to_value(&cfg).unwrap();
    let broken = [
        ("duration_ms", ProbeConfig { duration_ms: 0, ..cfg.clone() }, "must be positive"),
        ("window_ms", ProbeConfig { window_ms: 5, ..cfg.clone() }, "5 is below 10"),
        ("exchange_interval_ms", ProbeConfig { exchange_interval_ms: 9, ..cfg.clone() }, "9 is below 10"),
        ("tick_rate_hz", ProbeConfig { tick_rate_hz: 10_001, ..cfg.clone() }, "10001 is outside 0..=10000 (0: no periodic timer)"),
        ("poll_interval_ms", ProbeConfig { poll_interval_ms: 1, ..cfg.clone() }, "1 is below 10"),
        ("clocks", ProbeConfig { clocks: vec![], ..cfg.clone() }, "name at least one clock"),
        ("initial_sync_exchanges", ProbeConfig { initial_sync_exchanges: 0, ..cfg.clone() }, "must be at least 1"),
    ];
    for (field, config, message) in broken {
        let err = config.validate().unwrap_err();
        assert_eq!((err.field, err.message.as_str()), (field, message));
        assert!(json.get(err.field).is_some(), "{field} is not a ProbeConfig field");
        assert_eq!(err.to_string(), format!("{field}: {message}"));
    }
    // No periodic timer at all is a choice, not an error.
    assert_eq!(ProbeConfig { tick_rate_hz: 0, ..cfg.clone() }.validate(), Ok(()));
}

#[test]
fn typed_names_in_records_and_manifests_keep_their_strings() {
    let started = HarnessEvent::RunStarted {
        record_format_version: RECORD_FORMAT_VERSION,
        run_id: "r-kvm-clock".into(),
        clocksource: Clocksource::KvmClock,
        accel: Accel::Kvm,
        qemu_argv: vec![],
    };
    let text = serde_json::to_string(&started).unwrap();
    assert!(text.contains(r#""clocksource":"kvm-clock","accel":"kvm""#), "{text}");
    assert_eq!(serde_json::from_str::<HarnessEvent>(&text).unwrap(), started);
    let old = r#"{"event":"run_started","record_format_version":1,"run_id":"r","clocksource":"acpi_pm","accel":"tcg","qemu_argv":[]}"#;
    assert!(matches!(
        serde_json::from_str::<HarnessEvent>(old).unwrap(),
        HarnessEvent::RunStarted { clocksource: Clocksource::AcpiPm, accel: Accel::Tcg, .. }
    ));
    let fault = HarnessEvent::FaultStarted { index: 2, kind: FaultKindName::VcpuFreeze, planned_start_ms: 1, planned_duration_ms: 2 };
    let text = serde_json::to_string(&fault).unwrap();
    assert_eq!(text, r#"{"event":"fault_started","index":2,"kind":"vcpu-freeze","planned_start_ms":1,"planned_duration_ms":2}"#);
    assert_eq!(serde_json::from_str::<HarnessEvent>(&text).unwrap(), fault);
    let bad = text.replace("vcpu-freeze", "vcpu_freeze");
    assert!(serde_json::from_str::<HarnessEvent>(&bad).is_err());
    let run: ManifestRun =
        serde_json::from_str(r#"{"id":"x-hpet","clocksource":"hpet","kernel":"default","variant":"","repetition":0,"dir":"runs/x-hpet","outcome":null}"#)
            .unwrap();
    assert_eq!(run.clocksource, Clocksource::Hpet);
    assert!(serde_json::to_string(&run).unwrap().contains(r#""clocksource":"hpet""#));
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

/// Found by the `guest_protocol` fuzz target (fuzz/regressions/guest_protocol/):
/// serde_json's default float parser can be 1 ULP off, so a read cost the
/// probe sent came back another number once written again (the workspace
/// now enables serde_json's `float_roundtrip`).
#[test]
fn floats_read_back_exactly_as_written() {
    let read: f64 = serde_json::from_str("194.3733333333333333333333333333333333333333333333333333333333333398").unwrap();
    let written = serde_json::to_string(&read).unwrap();
    assert_eq!(serde_json::from_str::<f64>(&written).unwrap().to_bits(), read.to_bits(), "{written}");
}
