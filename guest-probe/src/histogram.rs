//! A log-linear histogram of nanosecond intervals, cheap enough for the
//! sampler's hot loop: values below 16 are exact, above that every power of
//! two is split into 8 buckets (so a percentile is within 12.5 % of the
//! truth, reported as its bucket's upper bound). Fixed size: 496 counters.

const EXACT: usize = 16;
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Octaves 4..=63 with 8 buckets each, after the exact ones.
const BUCKETS: usize = EXACT + (64 - 4) * SUB;

#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0, max: 0 }
    }
}

#[inline(always)]
fn bucket_of(v: u64) -> usize {
    if v < EXACT as u64 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros(); // >= 4
    let sub = ((v >> (octave - SUB_BITS)) as usize) & (SUB - 1);
    EXACT + (octave as usize - 4) * SUB + sub
}

/// The largest value that falls into bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < EXACT {
        return i as u64;
    }
    let octave = ((i - EXACT) / SUB) as u32 + 4;
    let sub = ((i - EXACT) % SUB) as u64;
    let width = 1u64 << (octave - SUB_BITS);
    let low = (1u64 << octave) + sub * width;
    low.saturating_add(width - 1)
}

impl Histogram {
    #[inline(always)]
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.total += 1;
        if v > self.max {
            self.max = v;
        }
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The exact largest value recorded.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the upper bound of the bucket that
    /// holds it, never above the exact maximum. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_bound(i).min(self.max);
            }
        }
        self.max
    }

    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.max = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order_and_within_an_eighth() {
        let mut prev = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b < BUCKETS);
            assert!(b >= prev || v > 100_000, "buckets must not go down");
            prev = b;
            let ub = upper_bound(b);
            assert!(ub >= v, "{v} above its bucket's upper bound {ub}");
            assert!(ub - v <= v / 8 + 1, "bucket of {v} too wide: {ub}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        // 990 reads of 100 ns, 9 of 10 µs, one gap of 2 s.
        for _ in 0..990 {
            h.record(100);
        }
        for _ in 0..9 {
            h.record(10_000);
        }
        h.record(2_000_000_000);
        assert_eq!(h.count(), 1000);
        assert!((100..=112).contains(&h.quantile(0.5)), "{}", h.quantile(0.5));
        assert!((100..=112).contains(&h.quantile(0.99)));
        assert!((10_000..=11_250).contains(&h.quantile(0.999)), "{}", h.quantile(0.999));
        assert_eq!(h.quantile(1.0), 2_000_000_000);
        assert_eq!(h.max(), 2_000_000_000);
        h.clear();
        assert_eq!((h.count(), h.quantile(0.5), h.max()), (0, 0, 0));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in [3, 3, 3, 7] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 3);
        assert_eq!(h.quantile(1.0), 7);
    }
}
