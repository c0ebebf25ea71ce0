use proptest::prelude::*;

use super::*;

fn s(v: &[f64]) -> Sample {
    Sample::new(v.to_vec()).unwrap()
}

/// Reference values computed with SciPy 1.17.1 (Python 3.11):
///   from scipy import stats; import numpy as np
///   a = [1, 2, 3, 4, 5]
///   stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=stats.sem(a))
///     -> (REF_CI_LOW, REF_CI_HIGH)
///   stats.ttest_ind([4.1, 4.5, 3.9, 4.8, 4.2], [5.1, 5.6, 4.9, 5.3], equal_var=False)
///     -> statistic=REF_T, pvalue=REF_P, df=REF_DF
const REF_CI_LOW: f64 = 1.0367568385224428;
const REF_CI_HIGH: f64 = 4.963243161477557;
const REF_T: f64 = -4.253529242078378;
const REF_P: f64 = 0.0038412584125223537;
const REF_DF: f64 = 6.9480426086565705;

#[test]
fn mean_ci_matches_scipy() {
    let ci = mean_ci(&s(&[1.0, 2.0, 3.0, 4.0, 5.0]), 0.95);
    assert_eq!(ci.mean, 3.0);
    assert!((ci.low - REF_CI_LOW).abs() < 1e-9, "{ci:?}");
    assert!((ci.high - REF_CI_HIGH).abs() < 1e-9, "{ci:?}");
}

#[test]
fn welch_matches_scipy() {
    let w = welch_t_test(&s(&[4.1, 4.5, 3.9, 4.8, 4.2]), &s(&[5.1, 5.6, 4.9, 5.3]));
    assert!((w.t - REF_T).abs() < 1e-9, "{w:?}");
    assert!((w.df - REF_DF).abs() < 1e-9, "{w:?}");
    assert!((w.p_value - REF_P).abs() < 1e-9, "{w:?}");
}

#[test]
fn samples_are_validated() {
    assert_eq!(Sample::new(vec![1.0]).unwrap_err(), SampleError::TooFew(1));
    assert!(matches!(Sample::new(vec![1.0, f64::NAN]), Err(SampleError::NotFinite(_))));
}

#[test]
fn a_difference_needs_significance_and_size() {
    let acpi = s(&[4.687, 4.688, 4.686, 4.687]);
    let tsc = s(&[0.0001, 0.0002, 0.0000, 0.0001]);
    let c = compare(("time lost", "s"), ("acpi_pm", &acpi), ("tsc", &tsc), 0.01);
    assert!(c.differs, "{c:?}");
    // Significant but under the noise threshold: not a difference.
    let a = s(&[1.000, 1.001, 1.000, 1.001]);
    let b = s(&[1.002, 1.003, 1.002, 1.003]);
    assert!(!compare(("x", "s"), ("a", &a), ("b", &b), 0.01).differs);
}

proptest! {
    #[test]
    fn the_ci_contains_the_mean_and_widens_with_variance(
        values in prop::collection::vec(-1e6f64..1e6, 2..50),
        scale in 1.5f64..10.0,
    ) {
        let sample = s(&values);
        let ci = mean_ci(&sample, 0.95);
        prop_assert!(ci.low <= ci.mean && ci.mean <= ci.high);
        let m = sample.mean();
        let spread: Vec<f64> = values.iter().map(|v| m + (v - m) * scale).collect();
        let wide = mean_ci(&s(&spread), 0.95);
        prop_assert!(wide.high - wide.low >= (ci.high - ci.low) * (1.0 + 1e-9) || ci.high - ci.low == 0.0);
    }

    #[test]
    fn the_bootstrap_is_reproducible_from_its_seed(values in prop::collection::vec(0f64..1e9, 2..40), seed in any::<u64>()) {
        let sample = s(&values);
        let a = median_bootstrap_ci(&sample, 0.95, 200, seed);
        let b = median_bootstrap_ci(&sample, 0.95, 200, seed);
        prop_assert_eq!(a, b);
        prop_assert!(a.low <= a.high);
        let min = values.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(a.low >= min && a.high <= max);
    }
}
