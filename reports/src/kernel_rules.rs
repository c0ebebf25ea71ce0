//! The kernels of a report and their clock rules, in words: which rule the
//! model used for each (a measured profile or the generic one), where each
//! kernel's threshold lies on every narrow clocksource, and how the kernels
//! differ, with what the difference costs a guest (docs/clock-model.md,
//! "Per-kernel profiles"). Pure.

use clockstorm_protocol::{AfterRefusal, ClockRule, Clocksource, Manifest};

use crate::format::ns;
use crate::predict::{generic_rule, wrap_ns};

/// One sentence per kernel, then one per pair of kernels whose rules differ.
pub fn explain(m: &Manifest) -> Vec<String> {
    let kernels: Vec<(String, ClockRule)> = m.kernels.iter().map(|k| (k.release.clone(), k.clock_rule.clone().unwrap_or_else(generic_rule))).collect();
    let mut out: Vec<String> = kernels.iter().map(|(release, rule)| describe(release, rule)).collect();
    for (i, (ra, a)) in kernels.iter().enumerate() {
        for (rb, b) in &kernels[i + 1..] {
            if let Some(d) = difference((ra, a), (rb, b)) {
                out.push(d);
            }
        }
    }
    out
}

fn after_words(a: AfterRefusal) -> &'static str {
    match a {
        AfterRefusal::WaitsForTheWrap => "its clock waits for the next wrap (one more wrap lost)",
        AfterRefusal::StopsForGood => "its clock stops for good",
    }
}

/// The threshold on each narrow clocksource, e.g. "acpi_pm 2.33 s ± 14.0 ms, hpet 21.4 s ± 128 ms".
fn thresholds(rule: &ClockRule) -> String {
    [Clocksource::AcpiPm, Clocksource::Hpet]
        .iter()
        .filter_map(|&cs| wrap_ns(cs).map(|w| (cs, w)))
        .map(|(cs, w)| {
            let pm = if rule.plus_minus > 0.0 { format!(" ± {}", ns(rule.plus_minus * w)) } else { String::new() };
            format!("{cs} {}{pm}", ns(rule.refuses_above * w))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(release: &str, rule: &ClockRule) -> String {
    format!(
        "{release}: the model uses {}: a counter delta above {:.3} of a wrap is refused ({}), then {}",
        rule.source,
        rule.refuses_above,
        thresholds(rule),
        after_words(rule.after)
    )
}

/// How two kernels' rules differ, and what it costs on acpi_pm (the
/// clocksource whose wrap a freeze of seconds reaches).
fn difference((ra, a): (&String, &ClockRule), (rb, b): (&String, &ClockRule)) -> Option<String> {
    let moved = (a.refuses_above - b.refuses_above).abs() > a.plus_minus + b.plus_minus;
    if !moved && a.after == b.after {
        return None;
    }
    let w = wrap_ns(Clocksource::AcpiPm)?;
    let (lo, hi, lo_k, hi_k) = if a.refuses_above <= b.refuses_above { (a, b, ra, rb) } else { (b, a, rb, ra) };
    let mut s = format!("{lo_k} -> {hi_k}: the threshold moved from {:.3} to {:.3} of a wrap", lo.refuses_above, hi.refuses_above);
    if moved {
        s.push_str(&format!(
            "; on acpi_pm a freeze whose length past whole wraps is {} to {} costs {lo_k} a wrap (4.69 s) and {hi_k} nothing",
            ns(lo.refuses_above * w),
            ns(hi.refuses_above * w)
        ));
    }
    match (lo.after, hi.after) {
        (x, y) if x == y => s.push_str(&format!("; above the threshold both: {}", after_words(x))),
        (_, AfterRefusal::StopsForGood) => {
            s.push_str(&format!("; from {} to a whole wrap ({}) {hi_k}'s clock stops for good where {lo_k} loses a wrap", ns(hi.refuses_above * w), ns(w)))
        }
        (AfterRefusal::StopsForGood, _) => {
            s.push_str(&format!("; above {}, {lo_k}'s clock stops for good where {hi_k} loses a wrap", ns(lo.refuses_above * w)))
        }
        _ => {}
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(f: f64, pm: f64, after: AfterRefusal, source: &str) -> ClockRule {
        ClockRule { refuses_above: f, plus_minus: pm, after, source: source.into(), same_build: true }
    }

    #[test]
    fn kernels_are_described_and_their_differences_priced() {
        let mut m = crate::fixtures::manifest(vec![]);
        let mut k2 = m.kernels[0].clone();
        m.kernels[0].release = "6.1.0-50-cloud-amd64".into();
        m.kernels[0].clock_rule = Some(rule(0.498, 0.003, AfterRefusal::WaitsForTheWrap, "the profile of 6.1"));
        k2.name = "trixie".into();
        k2.release = "6.12.117+deb13-cloud-amd64".into();
        k2.clock_rule = Some(rule(0.875, 0.004, AfterRefusal::StopsForGood, "the profile of 6.12"));
        m.kernels.push(k2);
        let e = explain(&m);
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(
            e[0].starts_with(
                "6.1.0-50-cloud-amd64: the model uses the profile of 6.1: a counter delta above 0.498 of a wrap is refused (acpi_pm 2.33 s ± 14.1 ms"
            ),
            "{}",
            e[0]
        );
        assert!(e[1].contains("its clock stops for good"), "{}", e[1]);
        assert!(e[2].contains("the threshold moved from 0.498 to 0.875 of a wrap"), "{}", e[2]);
        assert!(e[2].contains("2.33 s to 4.10 s costs 6.1.0-50-cloud-amd64 a wrap (4.69 s) and 6.12.117+deb13-cloud-amd64 nothing"), "{}", e[2]);
        assert!(e[2].contains("from 4.10 s to a whole wrap (4.69 s) 6.12.117+deb13-cloud-amd64's clock stops for good"), "{}", e[2]);
        // Without profiles: the generic rule, said so, and no difference.
        let mut m = crate::fixtures::manifest(vec![]);
        m.kernels.push(m.kernels[0].clone());
        let e = explain(&m);
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("the generic half-wrap rule (no profile of this kernel)"), "{}", e[0]);
    }
}
