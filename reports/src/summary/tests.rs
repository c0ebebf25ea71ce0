use clockstorm_protocol::*;

use super::*;

/// A small but complete run: started, spawned, hello 1.6 s later, calibration,
/// 2 initial exchanges, sync, 3 measured exchanges, 2 windows, done, finished.
pub fn completed_run() -> Vec<RunRecord> {
    let rec = |mono_ms: u64, body| RunRecord {
        host_realtime_ns: 1_764_000_000_000_000_000 + mono_ms as i64 * 1_000_000,
        host_monotonic_ns: mono_ms * 1_000_000,
        body,
    };
    let g = |m| RecordBody::Guest(m);
    let h = |e| RecordBody::Harness(e);
    let ex = |seq, t1: i64, t2: i64, t3: i64| g(GuestMessage::Exchange(Exchange::from_timestamps(seq, t1, t2, t3)));
    let window =
        |index, samples, gap, back| g(GuestMessage::Window(Window { index, samples, max_gap_ns: gap, backwards_steps: back, ..Window::default() }));
    vec![
        rec(
            0,
            h(HarnessEvent::RunStarted {
                record_format_version: RECORD_FORMAT_VERSION,
                run_id: "baseline-hpet".into(),
                clocksource: Clocksource::Hpet,
                accel: Accel::Tcg,
                qemu_argv: vec!["qemu-system-x86_64".into()],
            }),
        ),
        rec(10, h(HarnessEvent::QemuSpawned { pid: 42 })),
        rec(
            1_610,
            g(GuestMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                probe_version: "0.1.0".into(),
                run_id: "baseline-hpet".into(),
                kernel_release: "6.1.0-50-cloud-amd64".into(),
                clocksource: ClocksourceState { current: "hpet".into(), available: vec!["hpet".into(), "acpi_pm".into()] },
                vcpus: 1,
                tsc_flags: vec![],
                hz: None,
                boottime_ns: 1_400_000_000,
                clocksource_settle_ms: 0,
                ptp_device: None,
                read_cost: ReadCost { clocks: vec![(ClockId::Monotonic, 1534.2)], rdtsc_ns: 10.1, reads: 20_000 },
                boot_phases: Some(BootPhases {
                    probe_started_ns: 1_100_000_000,
                    modules_loaded_ns: 1_140_000_000,
                    channel_open_ns: 1_150_000_000,
                    clocksource_settled_ns: 1_200_000_000,
                }),
            })),
        ),
        rec(1_660, ex(0, 0, 500_000, 1_000_000)),
        rec(1_670, ex(1, 0, 400_000, 600_000)),
        rec(1_671, g(GuestMessage::Synced(Synced { best: Exchange::from_timestamps(1, 0, 400_000, 600_000), step_ns: 100_000 }))),
        rec(1_700, ex(2, 0, 300_000, 400_000)), // offset 100 µs ± 200 µs
        rec(1_800, ex(3, 0, 250_000, 600_000)), // offset -50 µs ± 300 µs
        rec(1_900, ex(4, 0, 320_000, 500_000)), // offset 70 µs ± 250 µs
        rec(1_950, window(0, 60_000, 2_500_000, 0)),
        rec(2_050, window(1, 61_000, 7_000_000, 1)),
        rec(
            2_060,
            g(GuestMessage::TickWindow(TickWindow {
                index: 0,
                rate_hz: 1000,
                mono_ns: 0,
                realtime_ns: 100_000_000,
                expirations: 100,
                wakeups: 100,
                ..TickWindow::default()
            })),
        ),
        rec(
            2_160,
            g(GuestMessage::TickWindow(TickWindow {
                index: 1,
                rate_hz: 1000,
                mono_ns: 0,
                realtime_ns: 200_000_000,
                expirations: 197,
                wakeups: 190,
                ..TickWindow::default()
            })),
        ),
        rec(
            6_700,
            g(GuestMessage::Done(Done {
                outcome: ProbeOutcome::Completed,
                samples: 121_000,
                windows: 2,
                dropped: Dropped::default(),
                exchanges: 3,
                exchanges_lost: 0,
                shm_exchanges: 0,
                shm_exchanges_lost: 0,
                peak_rss_kib: 2048,
                cpu_user_ms: 4_000,
                cpu_system_ms: 900,
            })),
        ),
        rec(6_800, h(HarnessEvent::SentinelSeen)),
        rec(6_900, h(HarnessEvent::QemuExited { code: Some(0), signal: None })),
        rec(6_901, h(HarnessEvent::RunFinished(RunOutcome::Completed { wall_ms: 6_890, requested_ms: 5_000 }))),
    ]
}

#[test]
fn a_completed_run_is_summarized_from_its_records() {
    let s = summarize(&completed_run());
    assert_eq!(s.run_id, "baseline-hpet");
    assert_eq!(s.status, "completed");
    assert_eq!(s.boot_to_hello_ms, Some(1600.0));
    // 1.6 s from QEMU's start to hello, 1.4 s of them the guest's uptime.
    let boot = s.boot.unwrap();
    assert_eq!(
        (boot.before_kernel_ms, boot.kernel_ms, boot.probe_setup_ms, boot.channel_open_ms, boot.clocksource_settle_ms, boot.calibration_ms),
        (200.0, 1_100.0, 40.0, 10.0, 50.0, 200.0)
    );
    assert_eq!(s.samples, 121_000);
    assert_eq!(s.max_gap_ns, Some(7_000_000));
    assert_eq!(s.backwards_steps, 1);
    // Only the three exchanges after the sync count: offsets 100, -50, 70 µs.
    assert_eq!(s.exchanges, 3);
    assert_eq!(s.offset_median_ns, Some(70_000));
    assert_eq!((s.offset_max_abs_ns, s.offset_max_abs_uncertainty_ns), (Some(100_000), Some(200_000)));
    assert_eq!(s.offset_uncertainty_median_ns, Some(250_000));
    assert_eq!(s.offset_uncertainty_min_ns, Some(200_000));
    assert_eq!(s.overhead_ms, Some(1_890));
    assert_eq!(s.read_cost_ns, Some(1534.2));
    // 100 ms of host time at 1 kHz, 97 expirations counted: 3 behind; 7 wake-ups missed.
    let ticks = s.ticks.unwrap();
    let timer = ticks.timer_expirations.unwrap();
    assert_eq!(timer.seen, 97);
    assert!((timer.total - 3.0).abs() < 1e-6, "{timer:?}");
    assert_eq!(ticks.timer_missed_wakeups, 7);
}

#[test]
fn a_run_cut_short_is_incomplete_and_keeps_what_it_measured() {
    let mut records = completed_run();
    records.truncate(10);
    let s = summarize(&records);
    assert_eq!(s.status, "incomplete");
    assert_eq!(s.samples, 60_000);
    assert_eq!(s.overhead_ms, None);
    assert_eq!(s.offset_uncertainty_p99_ns, Some(300_000));
}

#[test]
fn terminal_table_snapshot() {
    let done = summarize(&completed_run());
    let skipped = summarize(&[RunRecord {
        host_realtime_ns: 0,
        host_monotonic_ns: 0,
        body: RecordBody::Harness(HarnessEvent::RunFinished(RunOutcome::Skipped { reason: "kvm-clock needs KVM".into() })),
    }]);
    let skipped = RunSummary { clocksource: "kvm-clock".into(), run_id: "baseline-kvm-clock".into(), ..skipped };
    insta::assert_snapshot!(crate::terminal::render(&[done, skipped]));
}

#[test]
fn median_is_a_measured_value() {
    assert_eq!(median(&mut [3, 1, 2]), Some(2));
    assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    assert_eq!(median(&mut []), None);
}

#[test]
fn the_clocksource_in_use_follows_the_changes() {
    let mut s = summarize(&completed_run());
    assert_eq!(s.clocksource_at(5.0), "hpet");
    s.switches = vec![crate::faults::SwitchCost { from: "hpet".into(), to: "acpi_pm".into(), at_s: 2.0, offset_step_ns: None, uncertainty_ns: None }];
    assert_eq!(s.clocksource_at(1.9), "hpet");
    assert_eq!(s.clocksource_at(2.5), "acpi_pm");
}

#[test]
fn a_shared_memory_reference_that_stops_hands_over_to_the_data_channel() {
    let mut records = completed_run();
    let at = |ms: u64, body| RunRecord { host_realtime_ns: 1_764_000_000_000_000_000 + ms as i64 * 1_000_000, host_monotonic_ns: ms * 1_000_000, body };
    let shm = |seq, t1: i64, t2: i64, t3: i64| {
        let mut e = Exchange::from_timestamps(seq, t1, t2, t3);
        e.shared_memory = true;
        RecordBody::Guest(GuestMessage::Exchange(e))
    };
    let chan = |seq, t1: i64, t2: i64, t3: i64| RecordBody::Guest(GuestMessage::Exchange(Exchange::from_timestamps(seq, t1, t2, t3)));
    // Before the Done record: two shared-memory exchanges (± 2 µs) beside
    // the channel's, the probe saying the page stopped reading as the
    // reference, then the channel alone (± 300 µs and ± 400 µs).
    let done = records.iter().position(|r| matches!(r.body, RecordBody::Guest(GuestMessage::Done(_)))).unwrap();
    let late = vec![
        at(2_200, shm(10, 10_000_000, 10_002_000, 10_004_000)),
        at(2_201, chan(11, 10_005_000, 10_305_000, 10_605_000)),
        at(2_300, shm(12, 20_000_000, 20_002_000, 20_004_000)),
        at(2_301, RecordBody::Guest(GuestMessage::Degraded { component: "shm-reference".into(), reason: "no magic".into() })),
        at(2_400, chan(13, 30_000_000, 30_300_000, 30_600_000)),
        at(2_500, chan(14, 40_000_000, 40_400_000, 40_800_000)),
    ];
    records.splice(done..done, late.clone());
    let s = summarize(&records);
    assert_eq!(s.reference.as_deref(), Some(REFERENCE_SHM));
    // The reference: both shared-memory exchanges and the two channel
    // exchanges after the last of them, not the channel's before it.
    let mut u: Vec<i64> = vec![2_000, 2_000, 300_000, 400_000];
    assert_eq!(s.offset_uncertainty_median_ns, median(&mut u));
    assert!(s.probe_degraded.iter().any(|d| d.starts_with("shm-reference:")), "{:?}", s.probe_degraded);

    // Without the probe saying so, a quiet spell of the shared memory is
    // not a hand-over: its exchanges alone stay the reference.
    let mut records = completed_run();
    let mut quiet = late;
    quiet.remove(3);
    records.splice(done..done, quiet);
    let s = summarize(&records);
    assert_eq!(s.offset_uncertainty_median_ns, Some(2_000));
}
