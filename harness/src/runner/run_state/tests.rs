use super::*;
use crate::event_stream::HostStamp;
use clockstorm_protocol::{Beacon, Done, Dropped, FaultEffect, FaultKindName, Gap, KernelLog, RunRecord, SamplerProgress, TickWindow, TimerStall};

fn records_in(dir: &std::path::Path) -> (RecordFile, std::path::PathBuf) {
    let path = dir.join("records.jsonl");
    (RecordFile::create(&path).unwrap(), path)
}

fn read(path: &std::path::Path) -> Vec<RunRecord> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| RunRecord::from_line(l.as_bytes()).unwrap()).collect()
}

fn stamp() -> HostStamp {
    HostStamp::now()
}

fn beacon(seq: u64, mono: u64) -> GuestMessage {
    GuestMessage::Beacon(Beacon {
        seq,
        tsc: seq * 1_000,
        monotonic_ns: mono,
        realtime_ns: 0,
        samplers: vec![SamplerProgress { cpu: 0, clock: None, reads: seq, unchanged_reads: 0, unchanged_tsc_ticks: 0, value_ns: mono }],
        timer_wakeups: 0,
        timer_last_wake_ns: 0,
    })
}

/// One event of every kind the run loop can receive.
fn every_event() -> Vec<Event> {
    let effect = FaultEffect {
        index: 0,
        kind: FaultKindName::Freeze,
        began_realtime_ns: 1,
        began_monotonic_ns: 1,
        ended_realtime_ns: 2,
        ended_monotonic_ns: 2,
        achieved_ns: 1,
        detail: None,
        error: None,
    };
    vec![
        Event::Guest(stamp(), GuestMessage::Gap(Gap { cpu: 0, at_ns: 5, gap_ns: 3 })),
        Event::Guest(stamp(), GuestMessage::TickWindow(TickWindow::default())),
        Event::Guest(stamp(), GuestMessage::TimerStall(TimerStall { at_ns: 9, gap_ns: 8 })),
        Event::Guest(stamp(), beacon(0, 10)),
        Event::Guest(stamp(), GuestMessage::KernelLog(KernelLog { seq: 1, ts_us: 2, level: 4, message: "m".into(), read_realtime_ns: Some(3) })),
        Event::Garbled { stamp: stamp(), line: "{".into(), error: "eof".into() },
        Event::Harness(HarnessEvent::FaultStarted { index: 0, kind: FaultKindName::Freeze, planned_start_ms: 0, planned_duration_ms: 1 }),
        Event::Harness(HarnessEvent::FaultEnded(effect)),
        Event::Console(ConsoleSignal::Success),
        Event::Guest(
            stamp(),
            GuestMessage::Done(Done {
                outcome: ProbeOutcome::Completed,
                samples: 0,
                windows: 0,
                dropped: Dropped::default(),
                exchanges: 0,
                exchanges_lost: 0,
                shm_exchanges: 0,
                shm_exchanges_lost: 0,
                peak_rss_kib: 0,
                cpu_user_ms: 0,
                cpu_system_ms: 0,
            }),
        ),
    ]
}

fn kinds(records: &[RunRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.body {
            RecordBody::Guest(g) => kind_of(g).to_string(),
            RecordBody::Harness(h) => serde_json::to_value(h).unwrap()["event"].as_str().unwrap().to_string(),
        })
        .collect()
}

const RECORDED: [&str; 10] =
    ["gap", "tick_window", "timer_stall", "beacon", "kernel_log", "garbled", "fault_started", "fault_ended", "sentinel_seen", "done"];

#[test]
fn every_event_kind_reaches_the_records_before_hello() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, path) = records_in(dir.path());
    let mut state = RunState::default();
    for e in every_event() {
        state.dispatch(e, &mut rec);
    }
    assert_eq!(kinds(&read(&path)), RECORDED);
}

#[test]
fn every_event_kind_reaches_the_records_during_a_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, path) = records_in(dir.path());
    let mut state = RunState::default();
    state.dispatch(
        Event::Harness(HarnessEvent::FaultStarted { index: 9, kind: FaultKindName::Pause, planned_start_ms: 0, planned_duration_ms: 1 }),
        &mut rec,
    );
    for e in every_event() {
        state.dispatch(e, &mut rec);
    }
    assert_eq!(kinds(&read(&path))[1..], RECORDED);
}

#[test]
fn every_event_kind_reaches_the_records_in_the_drain_after_qemu_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, path) = records_in(dir.path());
    let mut state = RunState::default();
    let (tx, rx) = std::sync::mpsc::channel();
    for e in every_event() {
        tx.send(e).unwrap();
    }
    crate::runner::guest_run::drain_for_tests(&rx, &mut rec, &mut state);
    assert_eq!(kinds(&read(&path)), RECORDED);
    assert!(state.sentinel && state.done.is_some(), "the drain also learns the run's progress");
}

#[test]
fn the_first_sync_sets_the_timeline_origin_once_and_asks_for_the_faults() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, path) = records_in(dir.path());
    let mut state = RunState::default();
    let synced = || {
        let best = clockstorm_protocol::Exchange::from_timestamps(0, 0, 1, 2);
        Event::Guest(stamp(), GuestMessage::Synced(clockstorm_protocol::Synced { best, step_ns: 0 }))
    };
    assert_eq!(state.dispatch(synced(), &mut rec), Step::StartFaults);
    assert_eq!(state.dispatch(synced(), &mut rec), Step::Nothing);
    assert_eq!(kinds(&read(&path)), ["timeline_origin", "synced", "synced"]);
}

#[test]
fn failures_and_protocol_errors_end_the_run_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, _) = records_in(dir.path());
    let mut state = RunState::default();
    let step = state.dispatch(Event::Console(ConsoleSignal::KernelPanic("Kernel panic - not syncing: x".into())), &mut rec);
    assert_eq!(step, Step::Fail("the guest kernel panicked: Kernel panic - not syncing: x".into()));
    assert!(matches!(state.dispatch(Event::Protocol("v9".into()), &mut rec), Step::Fail(m) if m == "v9"));
}

#[test]
fn a_clock_that_does_not_advance_across_beacons_is_reported_stopped_then_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, _) = records_in(dir.path());
    let mut state = RunState::default();
    let at = |ms: i64| HostStamp { realtime_ns: ms * 1_000_000, monotonic_ns: ms as u64 * 1_000_000 };
    let mut steps = Vec::new();
    for i in 0..12u64 {
        let mono = if (2..9).contains(&i) { 2_000 } else { i * 250_000_000 };
        steps.push(state.dispatch(Event::Guest(at(i as i64 * 250), beacon(i, mono)), &mut rec));
    }
    let stopped = steps.iter().position(|s| matches!(s, Step::ClockStopped(_))).expect("reported stopped");
    let resumed = steps.iter().position(|s| matches!(s, Step::ClockResumed(_))).expect("reported resumed");
    // The highest value is read at 250 ms; the stop is called a second
    // later, the resumption once three beacons in a row climbed past it.
    assert_eq!((stopped, resumed), (5, 11), "{steps:?}");
    assert_eq!(state.stopped_total, Duration::from_millis(2_000));
}

#[test]
fn silence_counts_only_outside_faults_and_names_what_each_thread_said_last() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, _) = records_in(dir.path());
    let mut state = RunState::default();
    let now = Instant::now();
    assert_eq!(state.silent_for(now + SILENCE_LIMIT * 2), None, "no hello yet: the hello timeout's business");
    state.dispatch(Event::Guest(stamp(), GuestMessage::Gap(Gap { cpu: 1, at_ns: 1, gap_ns: 1 })), &mut rec);
    state.hello_at = Some(now);
    state.hello_vcpus = 2;
    let later = Instant::now() + SILENCE_LIMIT + Duration::from_secs(1);
    assert!(state.silent_for(later).is_some());
    state.dispatch(
        Event::Harness(HarnessEvent::FaultStarted { index: 0, kind: FaultKindName::Freeze, planned_start_ms: 0, planned_duration_ms: 1 }),
        &mut rec,
    );
    assert_eq!(state.silent_for(later), None, "a frozen guest is expected to say nothing");
    let seen = state.last_seen(later);
    let names: Vec<&str> = seen.iter().map(|t| t.thread.as_str()).collect();
    assert_eq!(names, ["channel", "timer", "poller", "kmsg", "sampler-0", "sampler-1"]);
    assert_eq!(seen[5].last.as_deref(), Some("gap"));
    assert!(seen[5].ago_ms.unwrap() >= SILENCE_LIMIT.as_millis() as u64);
    assert_eq!((seen[0].ago_ms, seen[0].last.as_deref()), (None, None));
}

#[test]
fn beacons_are_due_every_interval_after_hello_and_stop_with_done() {
    let mut state = RunState::default();
    let t0 = Instant::now();
    assert_eq!(state.beacon_due(t0), None, "not before hello");
    state.hello_at = Some(t0);
    assert_eq!(state.beacon_due(t0), Some(0));
    assert_eq!(state.beacon_due(t0 + BEACON_INTERVAL / 2), None);
    assert_eq!(state.beacon_due(t0 + BEACON_INTERVAL), Some(1));
    // A harness stalled for 10 intervals sends one, not ten.
    assert_eq!(state.beacon_due(t0 + BEACON_INTERVAL * 12), Some(2));
    assert_eq!(state.beacon_due(t0 + BEACON_INTERVAL * 12), None);
    state.done = Some(ProbeOutcome::Completed);
    assert_eq!(state.beacon_due(t0 + BEACON_INTERVAL * 20), None);
}

#[test]
fn a_data_event_gives_its_backlog_share_back_once_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, path) = records_in(dir.path());
    let mut state = RunState::default();
    let backlog = crate::backlog::Backlog::new(1 << 20);
    let crate::backlog::Admission::Now(credit) = backlog.admit(100) else { panic!("an empty backlog admits") };
    assert!(backlog.queued() > 0);
    let event = Event::Data(credit, Box::new(Event::Guest(stamp(), GuestMessage::Gap(Gap { cpu: 0, at_ns: 1, gap_ns: 1 }))));
    assert_eq!(state.dispatch(event, &mut rec), Step::Nothing);
    assert_eq!(backlog.queued(), 0);
    assert_eq!(read(&path).len(), 1, "recorded like any guest message");
}

#[test]
fn a_failed_console_log_write_fails_the_runs_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut rec, _path) = records_in(dir.path());
    let mut state = RunState::default();
    let error = std::io::Error::from_raw_os_error(libc::ENOSPC);
    state.dispatch(Event::WriteFailed { path: "/r/console.log".into(), error }, &mut rec);
    let f = rec.failure().expect("the run loop will see it");
    assert_eq!(f.path, std::path::Path::new("/r/console.log"));
    assert!(f.to_string().contains("No space left on device"), "{f}");
}
