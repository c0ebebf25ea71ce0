//! The fake guest's clock model: what a fault costs its clocks. Pure.
//!
//! The defaults are the reports' own model (`clockstorm_reports::predict`,
//! docs/clock-model.md), so a fake run with no overrides measures exactly
//! what the reports predict:
//!
//! - a freeze of `d` on a clocksource whose counter wraps every `W` (acpi_pm
//!   24 bits at 3.579545 MHz, hpet 32 bits at 100 MHz) costs `round(d / W)`
//!   whole wraps: the kernel reads only the elapsed time modulo `W` and
//!   takes a masked delta above `W / 2` for the counter going backwards;
//!   tsc and kvm-clock do not wrap and lose nothing;
//! - a QMP pause costs its whole length (TCG: QEMU's virtual clock stops).
//!
//! `--model KEY=VALUE,...` ([`parse_model`]) overrides any of it, and can
//! make the "kernel" refuse the requested clocksource or mark it unstable.

use std::time::Duration;

use clockstorm_protocol::Clocksource;
use clockstorm_reports::predict::wrap_ns;

use crate::duration::parse_duration;

/// The keys `--model` understands, for error messages.
const KEYS: &str = "wrap, refuse-above, pause, honor, unstable-after, garbage, long-line, flood";

/// What `--model` changes; None: the default. Pure data, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOverrides {
    /// `wrap=<duration>|none`: the counter's wrap period, whatever the clocksource.
    pub wrap: Option<Option<Duration>>,
    /// `pause=lost|kept`: whether a QMP pause costs the guest its length.
    pub pause_lost: Option<bool>,
    /// `honor=yes|no`: whether the kernel uses the requested clocksource.
    pub honor: Option<bool>,
    /// `unstable-after=<duration>|none`: a felt freeze at least this long makes
    /// the kernel's watchdog mark the current clocksource unstable.
    pub unstable_after: Option<Option<Duration>>,
    /// `refuse-above=<fraction>`: the fraction of a wrap (0 < f <= 1) above
    /// which the kernel refuses a masked delta and waits for the next wrap
    /// (default 1/2, the generic rule): how `characterize` is tested
    /// against rules of any threshold, including ones no real kernel has.
    pub refuse_above: Option<f64>,
    /// The hostile modes: what the guest does to its data channel (not to
    /// its clocks) once it measures. They test the harness, not a kernel.
    pub hostile: Hostile,
}

/// A guest that does not keep to the protocol, on top of its measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hostile {
    /// `garbage=<count>`: that many lines that are no message (random
    /// bytes, not UTF-8, not JSON, an unknown type), between the real ones.
    pub garbage: Option<u64>,
    /// `long-line=<bytes>`: one line that long, written over about half a
    /// second with no other message inside it.
    pub long_line: Option<u64>,
    /// `flood=<count>`: that many valid but excess messages (kernel-log
    /// lines), as fast as the channel takes them.
    pub flood: Option<u64>,
}

/// Parses `--model` text: `KEY=VALUE` items separated by commas; empty text
/// is the default model. Every error names the key and the value. Pure: the
/// harness checks a scenario's model with it before starting anything.
pub fn parse_model(text: &str) -> Result<ModelOverrides, String> {
    let mut o = ModelOverrides::default();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("fake model: {item:?} has no value: write KEY=VALUE (keys: {KEYS})"));
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |why: String| format!("fake model: {key}={value}: {why}");
        let duplicate = match key {
            "wrap" => o.wrap.replace(optional_duration(value).map_err(bad)?).is_some(),
            "pause" => o.pause_lost.replace(choice(value, "lost", "kept").map_err(bad)?).is_some(),
            "honor" => o.honor.replace(choice(value, "yes", "no").map_err(bad)?).is_some(),
            "unstable-after" => o.unstable_after.replace(optional_duration(value).map_err(bad)?).is_some(),
            "refuse-above" => o.refuse_above.replace(fraction(value).map_err(bad)?).is_some(),
            "garbage" => o.hostile.garbage.replace(positive(value).map_err(bad)?).is_some(),
            "long-line" => o.hostile.long_line.replace(positive(value).map_err(bad)?).is_some(),
            "flood" => o.hostile.flood.replace(positive(value).map_err(bad)?).is_some(),
            _ => return Err(format!("fake model: unknown key {key:?} in {item:?} (keys: {KEYS})")),
        };
        if duplicate {
            return Err(format!("fake model: {key} is given twice (last: {key}={value})"));
        }
    }
    Ok(o)
}

/// `none`, or a positive duration.
fn optional_duration(value: &str) -> Result<Option<Duration>, String> {
    if value == "none" {
        return Ok(None);
    }
    let d = parse_duration(value).map_err(|e| format!("{e}, or none"))?;
    if d.is_zero() {
        return Err("must be positive, or none".into());
    }
    Ok(Some(d))
}

/// A count (of lines, bytes, messages) above zero.
fn positive(value: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number above 0".into()),
    }
}

/// A fraction of a wrap in (0, 1].
fn fraction(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err("expected a fraction of a wrap above 0 and at most 1, e.g. 0.875".into()),
    }
}

/// `yes` (true) or `no` (false), spelled as the key's two choices.
fn choice(value: &str, yes: &str, no: &str) -> Result<bool, String> {
    match value {
        v if v == yes => Ok(true),
        v if v == no => Ok(false),
        _ => Err(format!("expected {yes} or {no}")),
    }
}

/// The wrap period (ns) of a clocksource's counter as Linux reads it; None
/// for counters that do not wrap within any run (tsc, kvm-clock) and for
/// names the model does not know.
pub fn default_wrap_ns(clocksource: &str) -> Option<f64> {
    Clocksource::from_kernel_name(clocksource).and_then(wrap_ns)
}

/// Time lost (ns) to a freeze of `freeze_ns` on a counter wrapping every
/// `wrap_ns` when the kernel refuses a masked delta above `refuse_above` of
/// a wrap and waits for the next one: floor(d / W) wraps, one more beyond
/// the threshold. With 1/2 it is `round(d / W) * W`, the rule of
/// `predict::predicted_loss_ns`.
pub fn loss_for_freeze(wrap_ns: Option<f64>, freeze_ns: u64, refuse_above: f64) -> u64 {
    match wrap_ns {
        Some(w) if w > 0.0 => {
            let wraps = freeze_ns as f64 / w;
            let whole = wraps.floor() + if wraps - wraps.floor() >= refuse_above { 1.0 } else { 0.0 };
            (whole * w).round() as u64
        }
        _ => 0,
    }
}

/// The model of one run: the defaults with the overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockModel {
    overrides: ModelOverrides,
}

impl ClockModel {
    pub fn new(overrides: ModelOverrides) -> ClockModel {
        ClockModel { overrides }
    }

    /// The wrap period the kernel sees on `clocksource` (an override holds
    /// for every clocksource, including one switched to during the run).
    pub fn wrap_ns(&self, clocksource: &str) -> Option<f64> {
        match self.overrides.wrap {
            Some(w) => w.map(|d| d.as_nanos() as f64),
            None => default_wrap_ns(clocksource),
        }
    }

    /// The fraction of a wrap above which a masked delta is refused (default 1/2).
    pub fn refuse_above(&self) -> f64 {
        self.overrides.refuse_above.unwrap_or(0.5)
    }

    /// Whether a QMP pause costs the guest its length (default: yes, as under TCG).
    pub fn pause_lost(&self) -> bool {
        self.overrides.pause_lost.unwrap_or(true)
    }

    /// Whether the kernel uses the requested clocksource (default: yes).
    pub fn honors_clocksource(&self) -> bool {
        self.overrides.honor.unwrap_or(true)
    }

    /// What the guest does to its data channel besides measuring.
    pub fn hostile(&self) -> Hostile {
        self.overrides.hostile
    }

    /// The felt freeze that makes the watchdog mark the clocksource unstable
    /// (default: none, it never does).
    pub fn unstable_after(&self) -> Option<Duration> {
        self.overrides.unstable_after.flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clockstorm_protocol::{Accel, FaultKindName};
    use clockstorm_reports::predict::{predicted_loss_ns, ACPI_PM_WRAP_NS, HPET_WRAP_NS};

    const S: u64 = 1_000_000_000;

    fn default_model() -> ClockModel {
        ClockModel::new(ModelOverrides::default())
    }

    #[test]
    fn freezes_lose_whole_wraps_rounded_as_the_reports_predict() {
        let m = default_model();
        let acpi = m.wrap_ns("acpi_pm");
        let w = ACPI_PM_WRAP_NS;
        // Below half a wrap nothing, from half a wrap one, at 1.5 wraps two.
        assert_eq!(loss_for_freeze(acpi, 2 * S, 0.5), 0);
        assert_eq!(loss_for_freeze(acpi, (w * 0.49) as u64, 0.5), 0);
        assert_eq!(loss_for_freeze(acpi, (w * 0.51) as u64, 0.5), w.round() as u64);
        assert_eq!(loss_for_freeze(acpi, w as u64, 0.5), w.round() as u64);
        assert_eq!(loss_for_freeze(acpi, (w * 1.6) as u64, 0.5), (2.0 * w).round() as u64);
        let hpet = m.wrap_ns("hpet");
        assert_eq!(loss_for_freeze(hpet, 9 * S, 0.5), 0);
        assert_eq!(loss_for_freeze(hpet, 30 * S, 0.5), HPET_WRAP_NS.round() as u64);
        for cs in ["tsc", "kvm-clock"] {
            assert_eq!(m.wrap_ns(cs), None);
            assert_eq!(loss_for_freeze(m.wrap_ns(cs), 100 * S, 0.5), 0);
        }
    }

    #[test]
    fn the_defaults_are_the_reports_prediction() {
        let m = default_model();
        for cs in Clocksource::ALL {
            for d in [0.5, 1.5, 2.0, 2.4, 3.0, 4.687, 6.0, 9.0, 21.0, 22.0, 43.0, 64.0] {
                let d_ns = (d * 1e9) as u64;
                let predicted = predicted_loss_ns(FaultKindName::Freeze, d_ns as f64, cs, Accel::Tcg).unwrap();
                let ours = loss_for_freeze(m.wrap_ns(cs.kernel_name()), d_ns, m.refuse_above()) as f64;
                assert!((ours - predicted).abs() <= 1.0, "{cs} {d} s: ours {ours}, predicted {predicted}");
            }
        }
        assert!(m.pause_lost(), "predict: a TCG pause costs its length");
        assert_eq!(predicted_loss_ns(FaultKindName::Pause, 3e9, Clocksource::Tsc, Accel::Tcg), Some(3e9));
        assert!(m.honors_clocksource());
        assert_eq!(m.unstable_after(), None);
    }

    #[test]
    fn overrides_replace_the_defaults() {
        let o = parse_model(" wrap=2s, pause=kept,honor=no , unstable-after=500ms").unwrap();
        let m = ClockModel::new(o);
        assert_eq!(m.wrap_ns("tsc"), Some(2e9), "an override holds for every clocksource");
        assert_eq!(loss_for_freeze(m.wrap_ns("tsc"), 3 * S, 0.5), 4 * S);
        assert!(!m.pause_lost());
        assert!(!m.honors_clocksource());
        assert_eq!(m.unstable_after(), Some(Duration::from_millis(500)));
        let m = ClockModel::new(parse_model("wrap=none,pause=lost,honor=yes,unstable-after=none").unwrap());
        assert_eq!(m.wrap_ns("acpi_pm"), None);
        assert!(m.pause_lost() && m.honors_clocksource());
        assert_eq!(m.unstable_after(), None);
        assert_eq!(parse_model("").unwrap(), ModelOverrides::default());
        let h = ClockModel::new(parse_model("garbage=5,long-line=4194304,flood=1000").unwrap()).hostile();
        assert_eq!(h, Hostile { garbage: Some(5), long_line: Some(4 << 20), flood: Some(1000) });
        assert_eq!(parse_model(" , ").unwrap(), ModelOverrides::default());
    }

    #[test]
    fn bad_model_text_names_the_key_and_the_value() {
        let err = |t: &str| parse_model(t).unwrap_err();
        let e = err("wrap=fast");
        assert!(e.contains("wrap=fast") && e.contains("not a duration"), "{e}");
        let e = err("wrap=0s");
        assert!(e.contains("wrap=0s") && e.contains("positive"), "{e}");
        let e = err("pause=maybe");
        assert!(e.contains("pause=maybe") && e.contains("lost or kept"), "{e}");
        let e = err("honor=true");
        assert!(e.contains("honor=true") && e.contains("yes or no"), "{e}");
        let e = err("unstable-after=3");
        assert!(e.contains("unstable-after=3") && e.contains("no unit"), "{e}");
        let e = err("speed=2");
        assert!(e.contains("\"speed\"") && e.contains("speed=2") && e.contains("keys:"), "{e}");
        let e = err("wrap");
        assert!(e.contains("\"wrap\"") && e.contains("KEY=VALUE"), "{e}");
        let e = err("flood=lots");
        assert!(e.contains("flood=lots") && e.contains("whole number"), "{e}");
        let e = err("long-line=0");
        assert!(e.contains("long-line=0") && e.contains("above 0"), "{e}");
        let e = err("pause=lost,pause=kept");
        assert!(e.contains("pause") && e.contains("twice"), "{e}");
    }
}
