//! Statistics as pure functions on validated samples. Each function names
//! its method; resampling is seeded and the seed is part of the result.

mod compare;
mod sample;

pub use compare::{compare, welch_t_test, with_unit, Comparison, WelchTest};
pub use sample::{Sample, SampleError};

/// A mean with its two-sided confidence interval (Student's t).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MeanCi {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// The confidence level, e.g. 0.95.
    pub level: f64,
    pub n: usize,
}

/// Mean and `level` confidence interval from Student's t distribution with
/// n-1 degrees of freedom: mean ± t(1-(1-level)/2, n-1) · s/√n.
pub fn mean_ci(sample: &Sample, level: f64) -> MeanCi {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let n = sample.len() as f64;
    let mean = sample.mean();
    let se = sample.std_dev() / n.sqrt();
    let t = StudentsT::new(0.0, 1.0, n - 1.0).expect("n >= 2 gives a valid t distribution").inverse_cdf(1.0 - (1.0 - level) / 2.0);
    MeanCi { mean, low: mean - t * se, high: mean + t * se, level, n: sample.len() }
}

/// A median with a seeded percentile-bootstrap confidence interval (for
/// skewed metrics such as gaps and latencies).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MedianCi {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    pub level: f64,
    pub resamples: u32,
    /// The seed the resampling used: the same seed gives the same interval.
    pub seed: u64,
}

/// Percentile bootstrap of the median: `resamples` resamples with
/// replacement drawn by SplitMix64 from `seed`.
pub fn median_bootstrap_ci(sample: &Sample, level: f64, resamples: u32, seed: u64) -> MedianCi {
    let values = sample.values();
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut medians = Vec::with_capacity(resamples as usize);
    let mut buf = vec![0.0; values.len()];
    for _ in 0..resamples {
        for slot in buf.iter_mut() {
            *slot = values[(next() % values.len() as u64) as usize];
        }
        medians.push(median_of(&mut buf));
    }
    medians.sort_by(|a, b| a.total_cmp(b));
    let tail = (1.0 - level) / 2.0;
    let at = |q: f64| medians[((q * (medians.len() - 1) as f64).round() as usize).min(medians.len() - 1)];
    MedianCi { median: sample.median(), low: at(tail), high: at(1.0 - tail), level, resamples, seed }
}

/// Median of a scratch buffer (sorted in place; even counts average the middle two).
fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests;
