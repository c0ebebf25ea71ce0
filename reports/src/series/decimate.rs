//! Shrinking series for plotting without hiding what matters: a spike in a
//! million-point offset series must survive, so buckets keep their extremes.

use super::Point;

/// At most `max` points of `points` (in x order): the series is cut into
/// max/2 equal-count buckets and each keeps its lowest and highest point, in
/// x order. Shorter series come back unchanged.
pub fn decimate(points: &[Point], max: usize) -> Vec<Point> {
    if points.len() <= max || max < 2 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let mut out = Vec::with_capacity(buckets * 2);
    for b in 0..buckets {
        let from = b * points.len() / buckets;
        let to = ((b + 1) * points.len() / buckets).max(from + 1);
        let bucket = &points[from..to];
        let lo = bucket.iter().min_by(|a, b| a.y.total_cmp(&b.y)).expect("bucket is not empty");
        let hi = bucket.iter().max_by(|a, b| a.y.total_cmp(&b.y)).expect("bucket is not empty");
        if lo == hi {
            out.push(*lo);
        } else if lo.x <= hi.x {
            out.extend([*lo, *hi]);
        } else {
            out.extend([*hi, *lo]);
        }
    }
    out
}

/// The empirical distribution function of `values` as at most `max` points
/// (value, fraction of values <= it), always including the smallest and the
/// largest value.
pub fn quantile_points(values: &mut [f64], max: usize) -> Vec<Point> {
    if values.is_empty() || max == 0 {
        return Vec::new();
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let steps = max.min(n);
    (1..=steps)
        .map(|i| {
            let rank = (i * n).div_ceil(steps); // 1-based, ends at n
            Point { x: values[rank - 1], y: rank as f64 / n as f64 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(ys: &[f64]) -> Vec<Point> {
        ys.iter().enumerate().map(|(i, &y)| Point { x: i as f64, y }).collect()
    }

    #[test]
    fn short_series_are_kept_whole() {
        let s = series(&[1.0, 2.0, 3.0]);
        assert_eq!(decimate(&s, 10), s);
    }

    #[test]
    fn a_single_spike_survives_decimation() {
        let mut ys = vec![0.0; 100_000];
        ys[77_777] = 4_690.0;
        ys[12_345] = -3.0;
        let out = decimate(&series(&ys), 100);
        assert!(out.len() <= 100);
        assert!(out.contains(&Point { x: 77_777.0, y: 4_690.0 }));
        assert!(out.contains(&Point { x: 12_345.0, y: -3.0 }));
        assert!(out.windows(2).all(|w| w[0].x < w[1].x), "x stays in order");
    }

    #[test]
    fn the_distribution_function_ends_at_the_maximum() {
        let mut v: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        let cdf = quantile_points(&mut v, 10);
        assert_eq!(cdf.len(), 10);
        assert_eq!(cdf[0], Point { x: 100.0, y: 0.1 });
        assert_eq!(*cdf.last().unwrap(), Point { x: 1000.0, y: 1.0 });
        assert!(cdf.windows(2).all(|w| w[0].x <= w[1].x && w[0].y < w[1].y));
        let mut few = vec![5.0, 1.0];
        assert_eq!(quantile_points(&mut few, 10), vec![Point { x: 1.0, y: 0.5 }, Point { x: 5.0, y: 1.0 }]);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decimation_is_bounded_ordered_and_keeps_the_extremes(
            ys in prop::collection::vec(-1e9f64..1e9, 0..3000),
            max in 2usize..400,
        ) {
            let points: Vec<Point> = ys.iter().enumerate().map(|(i, &y)| Point { x: i as f64, y }).collect();
            let out = decimate(&points, max);
            prop_assert!(out.len() <= max.max(points.len().min(max)));
            if points.len() <= max {
                prop_assert_eq!(&out, &points);
            }
            prop_assert!(out.windows(2).all(|w| w[0].x < w[1].x));
            if let (Some(lo), Some(hi)) = (
                points.iter().map(|p| p.y).reduce(f64::min),
                points.iter().map(|p| p.y).reduce(f64::max),
            ) {
                prop_assert!(out.iter().any(|p| p.y == lo));
                prop_assert!(out.iter().any(|p| p.y == hi));
            }
        }
    }
}
