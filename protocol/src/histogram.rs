//! A log-linear histogram of nanosecond intervals, kept by the probe's
//! samplers and timer (and the fake guest's, so their percentiles are the
//! same), cheap enough for the
//! sampler's hot loop: values below 1024 ns are exact, above that every
//! power of two is split into 8 buckets (so a percentile is within 12.5 % of
//! the truth, reported as its bucket's upper bound). Fixed size: 1456
//! counters, in an array of 2048 so the index needs no bounds check.
//!
//! Recording is one bucket increment and nothing else: the count is summed
//! when asked for and the exact maximum is tracked by the caller on its
//! (rare) slow path; under TCG every instruction in the sampler's loop costs
//! read rate.

/// Values below this are counted exactly, one counter each: the tsc
/// clocksource's reads (~70-100 ns apart under TCG) then cost one compare and
/// one increment, with no bit scan.
const EXACT: usize = 1024;
/// log2(EXACT): the first octave of the log-linear region.
const FIRST_OCTAVE: u32 = 10;
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Octaves FIRST_OCTAVE..=63 with 8 buckets each, after the exact ones.
const BUCKETS: usize = EXACT + (64 - FIRST_OCTAVE as usize) * SUB;
/// Storage size: the next power of two, so `index & (SLOTS - 1)` is in range.
const SLOTS: usize = 2048;
const _: () = assert!(BUCKETS <= SLOTS);

/// Inline (16 KiB), not boxed: the sampler's increment then needs no pointer
/// load of its own.
#[derive(Clone)]
pub struct Histogram {
    counts: [u64; SLOTS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: [0; SLOTS] }
    }
}

#[inline(always)]
fn bucket_of(v: u64) -> usize {
    if v < EXACT as u64 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros(); // >= FIRST_OCTAVE
    let sub = ((v >> (octave - SUB_BITS)) as usize) & (SUB - 1);
    EXACT + (octave - FIRST_OCTAVE) as usize * SUB + sub
}

/// The largest value that falls into bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < EXACT {
        return i as u64;
    }
    let octave = ((i - EXACT) / SUB) as u32 + FIRST_OCTAVE;
    let sub = ((i - EXACT) % SUB) as u64;
    let width = 1u64 << (octave - SUB_BITS);
    let low = (1u64 << octave) + sub * width;
    low.saturating_add(width - 1)
}

impl Histogram {
    /// Values below this have a counter of their own.
    pub const EXACT_BELOW: u64 = EXACT as u64;

    /// Records a value known to be below [`Self::EXACT_BELOW`]: the index
    /// needs no check beyond the mask.
    #[inline(always)]
    pub fn record_exact(&mut self, v: u64) {
        self.counts[v as usize & (SLOTS - 1)] += 1;
    }

    #[inline(always)]
    pub fn record(&mut self, v: u64) {
        if v < EXACT as u64 {
            self.counts[v as usize] += 1;
        } else {
            self.counts[bucket_of(v) & (SLOTS - 1)] += 1;
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value at quantile `q` (0..=1): the upper bound of the bucket that
    /// holds it, never above `max` (the exact maximum, which the caller
    /// tracks). 0 when empty.
    pub fn quantile(&self, q: f64, max: u64) -> u64 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
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
        let max = 2_000_000_000;
        assert_eq!(h.count(), 1000);
        assert_eq!(h.quantile(0.5, max), 100);
        assert_eq!(h.quantile(0.99, max), 100);
        assert!((10_000..=11_264).contains(&h.quantile(0.999, max)), "{}", h.quantile(0.999, max));
        assert_eq!(h.quantile(1.0, max), 2_000_000_000);
        h.clear();
        assert_eq!((h.count(), h.quantile(0.5, 0)), (0, 0));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in [3, 3, 3, 7] {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5, 7), 3);
        assert_eq!(h.quantile(1.0, 7), 7);
    }
}
