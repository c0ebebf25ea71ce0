//! A validated sample: at least two finite values.

/// Why a sample was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    #[error("a sample needs at least 2 values, got {0}")]
    TooFew(usize),
    #[error("a sample needs finite values, got {0}")]
    NotFinite(f64),
}

/// At least two finite values, the only input the statistics accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample(Vec<f64>);

impl Sample {
    pub fn new(values: Vec<f64>) -> Result<Sample, SampleError> {
        if values.len() < 2 {
            return Err(SampleError::TooFew(values.len()));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(SampleError::NotFinite(*v));
        }
        Ok(Sample(values))
    }

    pub fn values(&self) -> &[f64] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn mean(&self) -> f64 {
        self.0.iter().sum::<f64>() / self.0.len() as f64
    }

    /// Sample variance (n-1 in the denominator).
    pub fn variance(&self) -> f64 {
        let m = self.mean();
        self.0.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (self.0.len() - 1) as f64
    }

    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    pub fn median(&self) -> f64 {
        super::median_of(&mut self.0.clone())
    }
}
