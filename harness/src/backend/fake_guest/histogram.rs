//! A log-linear histogram of nanosecond intervals, as the probe keeps them:
//! values below 1024 exact, above that 8 buckets per power of two (a
//! percentile within 12.5 %, reported as its bucket's upper bound, capped by
//! the exact maximum the caller tracks).

const EXACT: u64 = 1024;
const FIRST_OCTAVE: u32 = 10;
const SUB_BITS: u32 = 3;
const BUCKETS: usize = EXACT as usize + (64 - FIRST_OCTAVE as usize) * (1 << SUB_BITS);

#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], total: 0 }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros();
    let sub = (v >> (octave - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    EXACT as usize + ((octave - FIRST_OCTAVE) as usize) * (1 << SUB_BITS) + sub as usize
}

/// The largest value that falls in bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < EXACT as usize {
        return i as u64;
    }
    let j = i - EXACT as usize;
    let octave = FIRST_OCTAVE + (j >> SUB_BITS) as u32;
    let sub = (j & ((1 << SUB_BITS) - 1)) as u64;
    let width = 1u64 << (octave - SUB_BITS);
    (1u64 << octave).wrapping_add((sub + 1) * width).wrapping_sub(1)
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.total += 1;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q` quantile, no larger than `max` (the exact maximum).
    pub fn quantile(&self, q: f64, max: u64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_bound(i).min(max);
            }
        }
        max
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_exact_below_1024_and_within_an_eighth_above() {
        let mut h = Histogram::default();
        for _ in 0..990 {
            h.record(100);
        }
        for _ in 0..9 {
            h.record(10_000);
        }
        h.record(2_000_000_000);
        assert_eq!(h.count(), 1000);
        assert_eq!(h.quantile(0.5, 2_000_000_000), 100);
        let p999 = h.quantile(0.999, 2_000_000_000);
        assert!((10_000..=11_264).contains(&p999), "{p999}");
        assert_eq!(h.quantile(1.0, 2_000_000_000), 2_000_000_000);
        assert_eq!(upper_bound(bucket_of(u64::MAX)), u64::MAX);
        h.clear();
        assert_eq!((h.count(), h.quantile(0.5, 7)), (0, 0));
    }
}
