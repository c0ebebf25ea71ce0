//! The progress of a scripted matrix, as a CI log and as a terminal shows
//! it. The times are the script's, not a clock's, so the snapshots need no
//! redaction.

use std::time::Duration;

use clockstorm_protocol::{FaultKindName, RunOutcome};

use super::*;

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn planned() -> Vec<PlannedRun> {
    vec![
        PlannedRun { id: "vf-reload-tsc".into(), measuring: Some(s(42.0)), faults: 2 },
        PlannedRun { id: "vf-reload-kvm-clock".into(), measuring: None, faults: 2 },
        PlannedRun { id: "vf-reload-acpi_pm".into(), measuring: Some(s(42.0)), faults: 2 },
    ]
}

/// The script: (time, update).
fn script() -> Vec<(f64, Update)> {
    let id = |s: &str| s.to_owned();
    let tsc = || id("vf-reload-tsc");
    let pm = || id("vf-reload-acpi_pm");
    vec![
        (0.0, Update::Matrix { runs: planned(), jobs: 1 }),
        (0.0, Update::Started { id: tsc(), clocksource: "tsc".into(), pinned: None }),
        (5.2, Update::Phase { id: tsc(), phase: Phase::Syncing }),
        (6.0, Update::Phase { id: tsc(), phase: Phase::Measuring }),
        (8.0, Update::FaultStarted { id: tsc(), index: 0, kind: FaultKindName::Freeze, planned_ms: 2000 }),
        (10.0, Update::FaultEnded { id: tsc(), index: 0, kind: FaultKindName::Freeze, achieved_ms: 2001, error: None }),
        (13.0, Update::FaultStarted { id: tsc(), index: 1, kind: FaultKindName::Freeze, planned_ms: 5000 }),
        (18.0, Update::FaultEnded { id: tsc(), index: 1, kind: FaultKindName::Freeze, achieved_ms: 5000, error: None }),
        (48.5, Update::Phase { id: tsc(), phase: Phase::TearingDown }),
        (49.0, Update::Finished { id: tsc(), outcome: RunOutcome::Completed { wall_ms: 49_000, requested_ms: 26_000 } }),
        (49.0, Update::Started { id: id("vf-reload-kvm-clock"), clocksource: "kvm-clock".into(), pinned: None }),
        (
            49.0,
            Update::Finished {
                id: id("vf-reload-kvm-clock"),
                outcome: RunOutcome::Skipped { reason: "kvm-clock is KVM's paravirtual clock and does not exist under TCG".into() },
            },
        ),
        (49.0, Update::Started { id: pm(), clocksource: "acpi_pm".into(), pinned: None }),
        (54.0, Update::Phase { id: pm(), phase: Phase::Syncing }),
        (55.0, Update::Phase { id: pm(), phase: Phase::Measuring }),
        (57.0, Update::FaultStarted { id: pm(), index: 0, kind: FaultKindName::Freeze, planned_ms: 2000 }),
        (58.0, Update::Note { id: pm(), text: "the guest's clock stopped: CLOCK_MONOTONIC did not get past 3.2 s".into() }),
        (59.0, Update::FaultEnded { id: pm(), index: 0, kind: FaultKindName::Freeze, achieved_ms: 2000, error: None }),
        (
            70.0,
            Update::Finished {
                id: pm(),
                outcome: RunOutcome::Failed {
                    reason: "the guest exited (signal 9) before the probe finished".into(),
                    console_tail: vec!["[ 3.1] Kernel panic - not syncing: Fatal exception".into()],
                },
            },
        ),
    ]
}

/// Every line the script prints at `verbosity`.
fn log(verbosity: Verbosity) -> String {
    let mut board = Board::default();
    script().iter().flat_map(|(at, u)| board.apply(u, s(*at), verbosity)).collect::<Vec<_>>().join("\n")
}

#[test]
fn plain_lines_at_each_verbosity() {
    insta::assert_snapshot!("normal", log(Verbosity::Normal));
    insta::assert_snapshot!("verbose", log(Verbosity::Verbose));
    assert_eq!(log(Verbosity::Quiet), "", "-q: no progress at all");
    let text = log(Verbosity::Verbose);
    assert!(!text.contains('\r') && !text.contains('\x1b'), "plain lines: no carriage returns, no ANSI");
}

#[test]
fn the_live_status_at_moments_of_the_script() {
    let mut board = Board::default();
    let mut frames = Vec::new();
    let moments = [3.0, 9.0, 30.0, 49.0, 58.5];
    let mut next = 0;
    for (at, u) in script() {
        while next < moments.len() && moments[next] < at {
            frames.push(format!("t={}\n{}", moments[next], board.live_lines(s(moments[next])).join("\n")));
            next += 1;
        }
        board.apply(&u, s(at), Verbosity::Normal);
    }
    insta::assert_snapshot!(frames.join("\n\n"));
}

#[test]
fn the_estimate_learns_the_overhead_from_finished_runs() {
    let mut board = Board::default();
    let runs = (0..4).map(|i| PlannedRun { id: format!("r{i}"), measuring: Some(s(30.0)), faults: 0 }).collect();
    board.apply(&Update::Matrix { runs, jobs: 2 }, s(0.0), Verbosity::Quiet);
    // Nothing finished: only the measuring is known, a lower bound: 4 x 30 s over 2 jobs.
    assert_eq!(board.estimate_left(s(0.0)), Estimate::AtLeast(s(60.0)));
    for id in ["r0", "r1"] {
        board.apply(&Update::Started { id: id.into(), clocksource: "tsc".into(), pinned: None }, s(0.0), Verbosity::Quiet);
    }
    let done = RunOutcome::Completed { wall_ms: 40_000, requested_ms: 30_000 };
    board.apply(&Update::Finished { id: "r0".into(), outcome: done.clone() }, s(40.0), Verbosity::Quiet);
    // Each run takes 10 s beyond its measuring: r1 has 0 s left, r2 and r3 40 s each, over 2 jobs.
    assert_eq!(board.estimate_left(s(40.0)), Estimate::About(s(40.0)));
    board.apply(&Update::Finished { id: "r1".into(), outcome: done }, s(40.0), Verbosity::Quiet);
    for id in ["r2", "r3"] {
        board.apply(&Update::Started { id: id.into(), clocksource: "tsc".into(), pinned: None }, s(40.0), Verbosity::Quiet);
        board.apply(&Update::Finished { id: id.into(), outcome: RunOutcome::Interrupted }, s(41.0), Verbosity::Quiet);
    }
    assert_eq!(board.estimate_left(s(41.0)), Estimate::Done);
}

#[test]
fn lengths_read_as_people_write_them() {
    assert_eq!(human(s(0.85)), "850 ms");
    assert_eq!(human(s(4.25)), "4.2 s");
    assert_eq!(human(s(42.0)), "42 s");
    assert_eq!(human(s(185.0)), "3m 05s");
    assert_eq!(human(s(3720.0)), "1h 02m");
}

#[test]
fn updates_are_read_off_the_event_stream() {
    use clockstorm_protocol::{FaultEffect, HarnessEvent};

    use crate::event_stream::Event;
    let started = Event::Harness(HarnessEvent::FaultStarted { index: 1, kind: FaultKindName::Pause, planned_start_ms: 7000, planned_duration_ms: 3000 });
    assert_eq!(update_of("r", &started), Some(Update::FaultStarted { id: "r".into(), index: 1, kind: FaultKindName::Pause, planned_ms: 3000 }));
    let effect = FaultEffect {
        index: 1,
        kind: FaultKindName::Pause,
        began_realtime_ns: 0,
        began_monotonic_ns: 0,
        ended_realtime_ns: 0,
        ended_monotonic_ns: 0,
        achieved_ns: 2_999_000_000,
        detail: None,
        error: None,
    };
    assert_eq!(
        update_of("r", &Event::Harness(HarnessEvent::FaultEnded(effect))),
        Some(Update::FaultEnded { id: "r".into(), index: 1, kind: FaultKindName::Pause, achieved_ms: 2999, error: None })
    );
    assert_eq!(update_of("r", &Event::ConsoleClosed), None);
    assert_eq!(update_of("r", &Event::Harness(HarnessEvent::SentinelSeen)), None);
}
