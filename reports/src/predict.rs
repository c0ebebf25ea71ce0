//! What the clock model predicts a fault costs (docs/clock-model.md, "What
//! the model computes"), to set beside each measurement and flag disagreements.
//!
//! Narrow counters read through a mask (acpi_pm: 24 bits at 3.579545 MHz,
//! wrapping every 4.687 s; hpet: 32 bits at 100 MHz, every 42.95 s) only show
//! the elapsed time modulo their wrap period W, and the kernel refuses a
//! masked delta above some fraction of W as the clock going backwards. Which
//! fraction, and what the kernel does then, is the kernel's [`ClockRule`]:
//! measured per kernel by `clockstorm characterize`, else the generic
//! half-wrap rule of 5.10 and 6.1 ([`generic_rule`]), under which a stop of D
//! while the counter runs on costs round(D/W) whole wraps. tsc and kvm-clock
//! do not wrap. A QMP pause under TCG stops every clock: it costs its length.

use std::collections::BTreeMap;

use clockstorm_protocol::{Accel, AfterRefusal, ClockProfile, ClockRule, Clocksource, FaultKindName, FreezeOutcome, Manifest};

/// acpi_pm's wrap period: 2^24 / 3.579545 MHz.
pub const ACPI_PM_WRAP_NS: f64 = 16_777_216.0 / 3_579_545.0 * 1e9;
/// hpet's wrap period as Linux reads it: 2^32 / 100 MHz.
pub const HPET_WRAP_NS: f64 = 4_294_967_296.0 / 100_000_000.0 * 1e9;

/// The wrap period of a narrow clocksource, None for tsc and kvm-clock.
pub fn wrap_ns(clocksource: Clocksource) -> Option<f64> {
    match clocksource {
        Clocksource::AcpiPm => Some(ACPI_PM_WRAP_NS),
        Clocksource::Hpet => Some(HPET_WRAP_NS),
        Clocksource::Tsc | Clocksource::KvmClock => None,
    }
}

/// The rule the model uses for a kernel without a profile: 5.10's and 6.1's
/// `CONFIG_CLOCKSOURCE_VALIDATE_LAST_CYCLE` refuses a delta with the mask's
/// top bit set (above half a wrap) and the clock waits for the next wrap.
pub fn generic_rule() -> ClockRule {
    ClockRule {
        refuses_above: 0.5,
        plus_minus: 0.0,
        after: AfterRefusal::WaitsForTheWrap,
        source: "the generic half-wrap rule (no profile of this kernel)".into(),
        same_build: false,
    }
}

/// Each run's kernel rule (its kernel's measured profile, else the generic
/// rule) and the accelerator, as a results directory's manifest gives them.
#[derive(Debug, Clone)]
pub struct RunRules {
    accel: Accel,
    by_run: BTreeMap<String, ClockRule>,
}

impl RunRules {
    pub fn from_manifest(m: &Manifest) -> RunRules {
        let by_run = m
            .runs
            .iter()
            .filter_map(|r| Some((r.id.clone(), m.kernels.iter().find(|k| k.name == r.kernel)?.clock_rule.clone()?)))
            .collect();
        RunRules { accel: m.accel, by_run }
    }

    /// The rule of run `run_id`'s kernel.
    pub fn rule(&self, run_id: &str) -> ClockRule {
        self.by_run.get(run_id).cloned().unwrap_or_else(generic_rule)
    }

    pub fn accel(&self) -> Accel {
        self.accel
    }
}

/// What the model expects a fault to do to the guest's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prediction {
    /// It costs this much time (ns).
    Lost(f64),
    /// The guest's clock stops for good.
    ClockStops,
    /// The freeze ends too near the kernel's threshold (within the rule's
    /// ±) to say which side it falls on.
    NearThreshold,
}

/// The predicted time lost (ns) for a fault of `kind` held `duration_ns` on
/// `clocksource` under `accel`, by the generic rule, or None where the
/// model says nothing (starvation, commands, KVM pauses). See [`predict`].
pub fn predicted_loss_ns(kind: FaultKindName, duration_ns: f64, clocksource: Clocksource, accel: Accel) -> Option<f64> {
    match predict(kind, duration_ns, clocksource, accel, &generic_rule()) {
        Some(Prediction::Lost(ns)) => Some(ns),
        _ => None,
    }
}

/// What a fault of `kind` held `duration_ns` on `clocksource` under `accel`
/// does by the kernel's `rule`, or None where the model says nothing. A
/// clocksource clockstorm does not compare (`jiffies` after a failover, …)
/// has no [`Clocksource`]: the caller has no prediction for it.
pub fn predict(kind: FaultKindName, duration_ns: f64, clocksource: Clocksource, accel: Accel, rule: &ClockRule) -> Option<Prediction> {
    match (kind, accel) {
        // The whole process stops; the device clocks run on with host time.
        (FaultKindName::Freeze, _) | (FaultKindName::VcpuFreeze, _) => Some(match wrap_ns(clocksource) {
            None => Prediction::Lost(0.0),
            Some(w) => freeze_on_a_wrapping_counter(duration_ns, w, rule),
        }),
        (FaultKindName::Pause, Accel::Tcg) => Some(Prediction::Lost(duration_ns)),
        (FaultKindName::Pause, Accel::Kvm | Accel::Standalone) | (FaultKindName::Starve, _) | (FaultKindName::Command, _) => None,
    }
}

/// A freeze of D on a counter of wrap W: floor(D/W) wraps while D mod W is
/// at most the rule's fraction of W; beyond it the delta is refused.
fn freeze_on_a_wrapping_counter(d: f64, w: f64, rule: &ClockRule) -> Prediction {
    let whole = (d / w).floor();
    let rest = d / w - whole;
    if (rest - rule.refuses_above).abs() <= rule.plus_minus {
        return Prediction::NearThreshold;
    }
    if rest < rule.refuses_above {
        return Prediction::Lost(whole * w);
    }
    match rule.after {
        AfterRefusal::WaitsForTheWrap => Prediction::Lost((whole + 1.0) * w),
        AfterRefusal::StopsForGood => Prediction::ClockStops,
    }
}

/// The rule a measured profile implies, or None when the profile found no
/// change from time kept within a wrap (it searched too short a range):
/// the first boundary out of "time kept" is where the kernel starts to
/// refuse deltas, and what lies above it is what it does then. `source`
/// names the profile (its file) for the report.
pub fn rule_from_profile(profile: &ClockProfile, source: &str, same_build: bool) -> Option<ClockRule> {
    let w = profile.wrap_ns;
    let b = profile.boundaries.iter().find(|b| b.below == FreezeOutcome::WrapsLost { wraps: 0 })?;
    let after = match b.above {
        FreezeOutcome::ClockStopped => AfterRefusal::StopsForGood,
        // Time kept until a whole wrap: the kernel refuses nothing below W
        // (the boundary is the wrap itself), and the next wrap costs one.
        FreezeOutcome::WrapsLost { wraps: 1 } => AfterRefusal::WaitsForTheWrap,
        _ => return None,
    };
    Some(ClockRule {
        refuses_above: (b.at_ns as f64 / w).min(1.0),
        plus_minus: b.plus_minus_ns as f64 / w,
        after,
        source: format!(
            "the profile of {} on {} ({source}{})",
            profile.kernel.release,
            profile.clocksource,
            if same_build { "" } else { ", measured on another build of this release" }
        ),
        same_build,
    })
}

/// Slack between measurement and model before they are said to disagree:
/// the exchanges' spread on a loaded host (10 ms) and, where the prediction
/// is the fault's own length (a pause), how well the host knows that length:
/// the QMP stop and resume events reach it late by up to about 1 % of the
/// pause under load (a 3 s pause measured 3.04 s by its events and cost
/// the guest 3.02 s in a full test run here).
pub fn tolerance_ns(kind: FaultKindName, duration_ns: f64) -> f64 {
    const EXCHANGE_SLACK_NS: f64 = 10_000_000.0;
    match kind {
        FaultKindName::Pause => EXCHANGE_SLACK_NS + 0.01 * duration_ns,
        _ => EXCHANGE_SLACK_NS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_gives_the_recorded_measurements() {
        use Accel::{Kvm, Tcg};
        use Clocksource::{AcpiPm, Hpet, Tsc};
        use FaultKindName::{Freeze, Pause, Starve};
        let s = 1e9;
        // acpi_pm lost 4.687 s for freezes of 3 s and 6 s, 9.374 s for 9 s.
        for (d, wraps) in [(1.5, 0.0), (2.0, 0.0), (3.0, 1.0), (6.0, 1.0), (9.0, 2.0)] {
            let p = predicted_loss_ns(Freeze, d * s, AcpiPm, Tcg).unwrap();
            assert!((p - wraps * ACPI_PM_WRAP_NS).abs() < 1.0, "{d} s: {p}");
        }
        assert_eq!(predicted_loss_ns(Freeze, 9.0 * s, Hpet, Tcg), Some(0.0));
        assert_eq!(predicted_loss_ns(Freeze, 9.0 * s, Tsc, Tcg), Some(0.0));
        assert_eq!(predicted_loss_ns(Pause, 3.0 * s, Tsc, Tcg), Some(3.0 * s));
        assert_eq!(predicted_loss_ns(Pause, 3.0 * s, Tsc, Kvm), None);
        assert_eq!(predicted_loss_ns(Starve, 3.0 * s, Tsc, Tcg), None);
        assert!((ACPI_PM_WRAP_NS / 1e9 - 4.686_9).abs() < 1e-4);
    }

    #[test]
    fn every_kind_clocksource_and_accel_gets_the_old_prediction() {
        // What the string-matching model gave, case by case.
        let old = |kind: &str, cs: &str, accel: &str, d: f64| -> Option<f64> {
            let wrap = match cs {
                "acpi_pm" => Some(ACPI_PM_WRAP_NS),
                "hpet" => Some(HPET_WRAP_NS),
                _ => None,
            };
            match (kind, accel) {
                ("freeze", _) | ("vcpu-freeze", _) => Some(wrap.map(|w| (d / w).round() * w).unwrap_or(0.0)),
                ("pause", "tcg") => Some(d),
                _ => None,
            }
        };
        for kind in FaultKindName::ALL {
            for cs in Clocksource::ALL {
                for accel in [Accel::Kvm, Accel::Tcg] {
                    for d in [0.5e9, 3e9, 50e9] {
                        let want = old(kind.as_str(), cs.kernel_name(), accel.qemu_name(), d);
                        assert_eq!(predicted_loss_ns(kind, d, cs, accel), want, "{kind} {cs} {accel} {d}");
                    }
                }
            }
            let pause_slack = if kind == FaultKindName::Pause { 0.01 * 3e9 } else { 0.0 };
            assert_eq!(tolerance_ns(kind, 3e9), 10_000_000.0 + pause_slack, "{kind}");
        }
    }
}
