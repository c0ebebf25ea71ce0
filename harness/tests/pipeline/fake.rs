//! The fake backend itself: it says what it is everywhere a figure could be
//! mistaken for a measurement, and its guest feels faults through its clock
//! model (docs/clock-model.md, "The fake guest's model") the way the
//! pipeline expects a guest to: a freeze past a wrap loses the wrap, a pause
//! costs its length, a refused clocksource fails the run.

use clockstorm_protocol::RunOutcome;

use crate::support::*;

/// The one fault's time-lost figure of the only run.
fn lost_ns(dir: &std::path::Path) -> f64 {
    let s = summaries(dir);
    assert_eq!(s.len(), 1, "{s:#?}");
    let f = &s[0].faults[0];
    assert_eq!(f.error, None, "{f:#?}");
    f.lost_ns.unwrap_or_else(|| panic!("no time-lost figure: {f:#?}")) as f64
}

#[test]
fn a_fake_run_goes_through_the_whole_pipeline_and_says_it_is_fake() {
    let (out, o) = fake(&["run", "idle", "--clocksource", "hpet", "--duration", "2s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fake backend"), "{}", text(&o));
    let m = manifest(out.path());
    assert_eq!(m.qemu.version, "none: the fake backend");
    assert!(m.kernels.iter().all(|k| k.origin.contains("fake")), "{:?}", m.kernels);
    assert!(matches!(m.runs[0].outcome, Some(RunOutcome::Completed { .. })), "{:?}", m.runs[0].outcome);
    let s = &summaries(out.path())[0];
    assert!(s.samples > 100 && s.windows >= 15, "{s:#?}");
    // No PCI bus in a fake guest: its offsets are the data channel's.
    assert_eq!(s.reference.as_deref(), Some("data channel"), "{s:#?}");
    for file in ["records.jsonl", "console.log", "fake-guest.stderr"] {
        assert!(out.path().join("runs/idle-hpet").join(file).is_file(), "{file}");
    }
}

#[test]
fn a_freeze_past_the_models_wrap_loses_the_wrap() {
    // A 1 s wrap (the model's override) keeps the test short. The model
    // rounds, as the kernel does (a masked delta above half a wrap reads as
    // going backwards): a 1.2 s freeze loses one wrap.
    let (out, o) = fake(&["run", "idle", "--clocksource", "acpi_pm", "--duration", "3s", "--fault", "freeze:1s+1200ms", "--fake-model", "wrap=1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lost = lost_ns(out.path());
    assert!((lost - 1e9).abs() < 50e6, "lost {lost} ns, expected one 1 s wrap");
}

#[test]
fn a_freeze_costs_a_clock_without_a_wrap_nothing_and_a_pause_costs_its_length() {
    let (out, o) = fake(&["run", "idle", "--clocksource", "tsc", "--duration", "3s", "--fault", "freeze:1s+1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lost = lost_ns(out.path());
    assert!(lost.abs() < 50e6, "a freeze on tsc lost {lost} ns");
    let (out, o) = fake(&["run", "idle", "--clocksource", "tsc", "--duration", "3s", "--fault", "pause:1s+1s"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lost = lost_ns(out.path());
    assert!((lost - 1e9).abs() < 50e6, "a 1 s pause lost {lost} ns");
}

#[test]
fn a_clocksource_the_fake_kernel_refuses_fails_the_run() {
    let (out, o) = fake(&["run", "idle", "--clocksource", "hpet", "--duration", "1s", "--fake-model", "honor=no"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(matches!(manifest(out.path()).runs[0].outcome, Some(RunOutcome::ClocksourceNotHonored { .. })), "{}", text(&o));
}

#[test]
fn a_bad_fake_model_is_a_usage_error_naming_the_key() {
    let (_out, o) = fake(&["run", "idle", "--fake-model", "wrap=soon"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fake-model"), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("soon"), "{}", text(&o));
    let (_out, o) = clockstorm(&["run", "idle", "--fake-model", "wrap=1s"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fake-model: applies to --backend fake only"), "{}", text(&o));
}

#[test]
fn a_run_without_the_periodic_timer_measures_the_rest_and_reports_no_timer_figures() {
    // `probe.tick_rate_hz = 0`: no timer thread, so no tick windows, wake-up
    // latency or missed wake-ups; the samplers, exchanges and the jiffies
    // backlog still report.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("no-timer.toml");
    std::fs::write(&file, "name = \"no-timer\"\ndescription = \"d\"\nclocksources = [\"hpet\"]\n\n[probe]\nduration = \"2s\"\ntick_rate_hz = 0\n")
        .unwrap();
    let (out, o) = fake(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = &summaries(out.path())[0];
    assert_eq!(s.status, "completed", "{s:#?}");
    assert!(s.samples > 100 && s.exchanges > 5, "{s:#?}");
    let ticks = s.ticks.as_ref().expect("the poller's jiffies still give tick figures");
    assert!(ticks.timer_expirations.is_none() && ticks.timer_missed_wakeups == 0, "{ticks:#?}");
    let records = std::fs::read_to_string(out.path().join("runs/no-timer-hpet/records.jsonl")).unwrap();
    assert!(!records.contains("\"type\":\"tick_window\""), "a tick window without a timer");
}
