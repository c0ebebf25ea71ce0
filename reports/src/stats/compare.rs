//! Comparing two groups: Welch's t-test, an effect size, and a verdict that
//! calls a difference only when it is both significant and larger than a
//! noise threshold.

use serde::{Deserialize, Serialize};

use super::Sample;

/// Welch's unequal-variance t-test (two-sided).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WelchTest {
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    pub p_value: f64,
}

pub fn welch_t_test(a: &Sample, b: &Sample) -> WelchTest {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (a.variance() / na, b.variance() / nb);
    let se = (va + vb).sqrt();
    if se == 0.0 {
        // Two constant samples: equal means are no evidence of a difference,
        // different ones are certain.
        let same = a.mean() == b.mean();
        return WelchTest { t: if same { 0.0 } else { f64::INFINITY }, df: na + nb - 2.0, p_value: if same { 1.0 } else { 0.0 } };
    }
    let t = (a.mean() - b.mean()) / se;
    let df = (va + vb).powi(2) / (va.powi(2) / (na - 1.0) + vb.powi(2) / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    let p_value = 2.0 * (1.0 - dist.cdf(t.abs()));
    WelchTest { t, df, p_value }
}

/// Two groups compared on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    pub metric: String,
    pub unit: String,
    pub a: String,
    pub b: String,
    pub n_a: usize,
    pub n_b: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// The test used, by name.
    pub test: String,
    pub p_value: f64,
    /// Hedges' g (a standardized mean difference, small-sample corrected).
    pub effect_size: f64,
    /// Differences below this (in the metric's unit) are noise whatever the p-value.
    pub noise_threshold: f64,
    /// The difference is significant (p < 0.05) and above the noise threshold.
    pub differs: bool,
    /// The comparison in words, with its test, p-value and threshold.
    pub sentence: String,
}

/// Compares `a` and `b` on `metric` with Welch's test at 5 %.
pub fn compare((metric, unit): (&str, &str), (name_a, a): (&str, &Sample), (name_b, b): (&str, &Sample), noise_threshold: f64) -> Comparison {
    let w = welch_t_test(a, b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * a.variance() + (nb - 1.0) * b.variance()) / (na + nb - 2.0)).sqrt();
    let correction = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    let diff = a.mean() - b.mean();
    let effect_size = if pooled > 0.0 {
        diff / pooled * correction
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(diff)
    };
    let differs = w.p_value < 0.05 && diff.abs() > noise_threshold;
    let figure = |v: f64| with_unit(v, unit);
    let why = if differs {
        "differs".to_owned()
    } else if w.p_value >= 0.05 {
        "no significant difference".to_owned()
    } else {
        format!("significant but within the {} noise threshold", figure(noise_threshold))
    };
    let sentence = format!(
        "{metric}: {name_a} {} vs {name_b} {} ({}{}): {why} (Welch {}, Hedges' g = {}, n = {} vs {})",
        figure(a.mean()),
        figure(b.mean()),
        if diff >= 0.0 { "+" } else { "" },
        figure(diff),
        p_text(w.p_value),
        crate::format::significant(effect_size),
        a.len(),
        b.len()
    );
    Comparison {
        metric: metric.to_owned(),
        unit: unit.to_owned(),
        a: name_a.to_owned(),
        b: name_b.to_owned(),
        n_a: a.len(),
        n_b: b.len(),
        mean_a: a.mean(),
        mean_b: b.mean(),
        test: "Welch's t-test (two-sided)".into(),
        p_value: w.p_value,
        effect_size,
        noise_threshold,
        differs,
        sentence,
    }
}

/// A value in its unit; times are rescaled (0.000042 s reads 42.0 µs).
pub fn with_unit(v: f64, unit: &str) -> String {
    // An exact zero (an interval kept at a metric's floor) reads as one.
    if v == 0.0 {
        return format!("0 {unit}");
    }
    let scale = match unit {
        "s" => 1e9,
        "ms" => 1e6,
        "µs" => 1e3,
        "ns" => 1.0,
        _ => return format!("{} {unit}", crate::format::significant(v)),
    };
    crate::format::ns(v * scale)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}
