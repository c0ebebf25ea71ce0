//! `clockstorm characterize` on real guests: the bisection finds each
//! kernel's threshold where the kernel's source says it is. Narrow ranges
//! around the thresholds keep it to two guests per kernel; the full
//! characterizations behind profiles/ are a documented command (README.md,
//! "Kernel clock profiles").

use clockstorm_protocol::{ClockProfile, FreezeOutcome};
use clockstorm_reports::predict::ACPI_PM_WRAP_NS;

use crate::support::*;

fn characterize(kernel: &str, from: &str, to: &str) -> ClockProfile {
    let (out, o) =
        clockstorm(&["characterize", "--kernel", kernel, "--from", from, "--to", to, "--freezes-per-guest", "3", "--max-guests", "2", "--no-save"]);
    assert_eq!(o.status.code(), Some(0), "every boundary resolved: {}", text(&o));
    let profile: ClockProfile = serde_json::from_str(&std::fs::read_to_string(out.path().join("profile.json")).unwrap()).unwrap();
    // Every freeze up to a stop got its outcome; the evidence is kept. In the
    // stop regime a 6.12 guest sometimes goes silent instead (no beacon
    // answered after the freeze): a finding its run names, after which that
    // guest's freezes have no outcome.
    let stop = profile.observations.iter().position(|o| o.outcome == Some(FreezeOutcome::ClockStopped));
    let silent = |guest: u32| summaries(&out.path().join(format!("guest-{guest}"))).iter().any(|s| s.status == "silent");
    for (i, o) in profile.observations.iter().enumerate() {
        let after_a_stop = stop.is_some_and(|s| i > s && o.guest == profile.observations[s].guest);
        let went_silent = o.outcome.is_none()
            && silent(o.guest)
            && profile.observations.iter().filter(|l| l.guest == o.guest && l.fault > o.fault).all(|l| l.outcome.is_none());
        assert!(o.outcome.is_some() || after_a_stop || went_silent, "{o:#?}");
    }
    assert!(out.path().join("guest-1/manifest.json").is_file() && out.path().join("guest-1.toml").is_file());
    assert_eq!((profile.measured_by.backend.as_str(), profile.measured_by.guests), ("qemu", 2));
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
    profile
}

/// The one boundary out of "time kept" lies where the kernel's rule puts it:
/// the counter's delta is the freeze plus up to a tick, so the threshold in
/// freeze length is at most a tick below the rule's, which the bound covers.
fn assert_threshold(p: &ClockProfile, above: FreezeOutcome, fraction: f64) {
    let b = p.boundaries.iter().find(|b| b.below == FreezeOutcome::WrapsLost { wraps: 0 }).unwrap_or_else(|| panic!("{p:#?}"));
    assert_eq!(b.above, above, "{b:#?}");
    assert!(b.resolved && b.plus_minus_ns <= 50_000_000, "{b:#?}");
    let rule = fraction * ACPI_PM_WRAP_NS;
    assert!((b.at_ns as f64 - rule).abs() <= b.plus_minus_ns as f64, "threshold {} ± {} vs the rule's {rule}", b.at_ns, b.plus_minus_ns);
}

#[test]
fn characterize_finds_half_a_wrap_on_6_1_and_seven_eighths_on_6_12() {
    // 6.1: CONFIG_CLOCKSOURCE_VALIDATE_LAST_CYCLE refuses a delta above half
    // the mask; the clock waits for the next wrap.
    let p = characterize("debian-bookworm-cloud-amd64", "2.1s", "2.6s");
    assert!(p.kernel.release.starts_with("6.1."), "{}", p.kernel.release);
    assert_threshold(&p, FreezeOutcome::WrapsLost { wraps: 1 }, 0.5);
    // 6.12: max_raw_delta is 7/8 of the mask; beyond it the clock stops.
    let p = characterize("debian-trixie-cloud-amd64", "3.95s", "4.25s");
    assert!(p.kernel.release.starts_with("6.12."), "{}", p.kernel.release);
    assert_threshold(&p, FreezeOutcome::ClockStopped, 0.875);
}
