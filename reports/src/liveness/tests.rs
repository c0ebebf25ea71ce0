//! The detector on fake clocks: a clock that stops, stops and recovers,
//! steps back, runs slowly, and a guest that is paused.
use super::*;

const MS: i64 = 1_000_000;

/// Beacons every 250 ms of host time; the TSC at 1 GHz of host time;
/// CLOCK_MONOTONIC from `clock(host_ms)`.
fn beacons(until_ms: i64, clock: impl Fn(i64) -> u64) -> Vec<BeaconPoint> {
    (0..=until_ms / 250)
        .map(|i| {
            let ms = i * 250;
            BeaconPoint {
                host_ns: ms * MS,
                tsc: (ms * MS) as u64,
                monotonic_ns: clock(ms),
                timer_wakeups: ms as u64,
                unchanged_reads: 0,
                unchanged_tsc_ticks: 0,
            }
        })
        .collect()
}

fn run(points: &[BeaconPoint]) -> (Vec<Transition>, Vec<ClockStop>) {
    let mut d = StopDetector::new();
    let t = points.iter().filter_map(|p| d.observe(*p)).collect();
    (t, d.finish())
}

#[test]
fn a_running_clock_never_stops() {
    let (t, stops) = run(&beacons(10_000, |ms| (ms * MS) as u64 + 7));
    assert!(t.is_empty() && stops.is_empty());
}

#[test]
fn a_clock_that_stops_for_good_is_reported_once_after_the_minimum_and_stays_open() {
    let stop_at = 3_000;
    let (t, stops) = run(&beacons(10_000, |ms| (ms.min(stop_at) * MS) as u64));
    assert_eq!(t.len(), 1);
    let Transition::Stopped(s) = &t[0] else { panic!("{t:?}") };
    assert_eq!(s.first_seen_ns, stop_at * MS);
    assert_eq!(s.last_seen_ns - s.first_seen_ns, STOP_MIN_NS, "reported at the first beacon past the minimum");
    assert_eq!(stops.len(), 1);
    assert!(!stops[0].recovered());
    assert_eq!(stops[0].stopped_ns(), 7_000 * MS);
    assert_eq!(stops[0].beacons, 28, "the beacons after the one that read the value");
    assert_eq!(stops[0].steps_back, 0);
    assert!(stops[0].evidence().contains("stood at 3.000000 s"), "{}", stops[0].evidence());
    assert!(stops[0].evidence().contains("had not advanced again"), "{}", stops[0].evidence());
}

#[test]
fn a_clock_that_stops_and_recovers_gives_its_length_and_jump() {
    // Stands still from 2 s to 4.5 s of host time, then runs on from where it stood.
    let (t, stops) = run(&beacons(8_000, |ms| match ms {
        ..=2_000 => (ms * MS) as u64,
        2_001..=4_499 => (2_000 * MS) as u64,
        _ => ((2_000 + ms - 4_750) * MS) as u64 + 1_000,
    }));
    assert!(matches!(t.as_slice(), [Transition::Stopped(_), Transition::Resumed(_)]), "{t:?}");
    let s = &stops[0];
    assert!(s.recovered());
    assert_eq!((s.first_seen_ns, s.resumed_ns), (2_000 * MS, Some(4_750 * MS)), "the first of the beacons that climbed past it");
    assert_eq!(s.stopped_ns(), 2_750 * MS);
    assert_eq!(s.jump_ns, Some(1_000), "the first beacon past the old value read just past it");
}

#[test]
fn a_short_stand_still_is_not_a_stop() {
    let (t, stops) = run(&beacons(6_000, |ms| if (2_000..2_750).contains(&ms) { (2_000 * MS) as u64 } else { (ms * MS) as u64 }));
    assert!(t.is_empty() && stops.is_empty(), "{t:?}");
}

#[test]
fn a_clock_that_steps_back_or_runs_slowly_is_not_stopped() {
    let (t, _) = run(&beacons(6_000, |ms| if ms < 3_000 { (ms * MS) as u64 } else { ((ms - 300) * MS) as u64 }));
    assert!(t.is_empty(), "a step back of 0.3 s is passed again within the minimum: {t:?}");
    // One ns of clock per 250 ms of host time: slow, but moving.
    let (t, _) = run(&beacons(6_000, |ms| 1_000 + ms as u64 / 250));
    assert!(t.is_empty(), "{t:?}");
}

#[test]
fn a_clock_that_runs_over_the_same_seconds_again_and_again_has_stopped() {
    // As a 6.12 guest on acpi_pm did after a 4.4 s freeze: CLOCK_MONOTONIC
    // runs from 7.8 s to 12.3 s, steps back to 7.8 s, and again, forever.
    let (t, stops) = run(&beacons(20_000, |ms| {
        let base = 7_800 * MS;
        if ms < 4_500 {
            (base + ms * MS) as u64
        } else {
            (base + ((ms - 4_500) % 4_500) * MS) as u64
        }
    }));
    assert_eq!(t.len(), 1, "{t:?}");
    let s = &stops[0];
    assert!(!s.recovered());
    assert_eq!(s.value_ns, (7_800 + 4_250) as u64 * MS as u64, "the last beacon before the first step back");
    assert_eq!(s.steps_back, 4);
    assert_eq!(s.lowest_ns, 7_800 * MS as u64);
    assert!(s.evidence().contains("stepping back 4 times to as low as 7.800000 s"), "{}", s.evidence());
}

#[test]
fn a_sawtooth_whose_peaks_creep_up_is_still_one_stop() {
    // Beacons sample the sawtooth at another phase each cycle, so the
    // highest value seen creeps up by a few tens of ms per cycle.
    let (t, stops) = run(&beacons(30_000, |ms| {
        let base = 7_800 * MS;
        let period = 4_540;
        if ms < 4_500 {
            (base + ms * MS) as u64
        } else {
            (base + ((ms - 4_500) % period) * MS) as u64
        }
    }));
    assert_eq!(t.len(), 1, "one stop, never resumed: {t:?}");
    assert!(stops[0].value_ns > (7_800 + 4_250) as u64 * 1_000_000, "the crept-up highest value");
    assert!(stops[0].steps_back >= 6);
}

#[test]
fn a_guest_whose_tsc_did_not_advance_is_not_reported() {
    // Same value and same TSC: not evidence that the guest ran meanwhile.
    let mut points = beacons(5_000, |_| 42);
    points.iter_mut().for_each(|p| p.tsc = 9);
    let (t, stops) = run(&points);
    assert!(t.is_empty() && stops.is_empty());
}

#[test]
fn sampler_evidence_is_kept_from_the_beacon_with_the_most_unchanged_reads() {
    let mut points = beacons(3_000, |ms| (ms.min(1_000) * MS) as u64);
    for (i, p) in points.iter_mut().enumerate() {
        p.unchanged_reads = if i >= 4 { (i as u64 - 4) * 100_000 } else { 0 };
        p.unchanged_tsc_ticks = p.unchanged_reads * 10;
    }
    let stops = run(&points).1;
    assert_eq!((stops[0].sampler_reads, stops[0].sampler_tsc_ticks), (800_000, 8_000_000));
    assert!(stops[0].evidence().contains("800000 sampler reads in a row did not get past it"), "{}", stops[0].evidence());
}
