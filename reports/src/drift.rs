//! Drift of a guest's clock against the host's: the slope of the offset
//! (host - guest) over host time, by least squares with a separate
//! intercept per stretch between faults, so a step across a fault (time
//! lost) is not mistaken for a rate.

use clockstorm_protocol::{Exchange, FaultEffect};
use serde::{Deserialize, Serialize};

/// A drift estimate in ppm with its two-sided 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drift {
    pub ppm: f64,
    pub low: f64,
    pub high: f64,
    /// Exchanges used and stretches (fault-free segments) they came from.
    pub exchanges: usize,
    pub segments: usize,
}

/// Drift from the exchanges after the sync; exchanges during a fault (or in
/// the second after it, while bursts settle) are left out. Each exchange
/// weighs 1/uncertainty²: a run's first exchanges can be a thousand times
/// looser than the rest (seen: three of 0.35-0.71 ms among 115 of ~0.5 µs
/// while the probe was still starting; unweighted, they made an hpet guest
/// whose offset held within 0.1 µs for 25 s "drift" 29 ppm). None with
/// fewer than 3 degrees of freedom or no spread in time.
pub fn drift_ppm(exchanges: &[Exchange], faults: &[FaultEffect]) -> Option<Drift> {
    const SETTLE_NS: i64 = 1_000_000_000;
    let segment_of = |t: i64| faults.iter().filter(|f| f.began_realtime_ns <= t).count();
    let in_fault = |t: i64| faults.iter().any(|f| f.began_realtime_ns <= t && t <= f.ended_realtime_ns + SETTLE_NS);
    let points: Vec<(usize, f64, f64, f64)> = exchanges
        .iter()
        .filter(|e| !in_fault(e.t2_ns))
        .map(|e| (segment_of(e.t2_ns), e.t2_ns as f64, e.offset_ns as f64, 1.0 / (e.uncertainty_ns.max(1) as f64).powi(2)))
        .collect();
    let slope = pooled_slope_weighted(&points)?;
    Some(Drift { ppm: slope.slope * 1e6, low: slope.low * 1e6, high: slope.high * 1e6, exchanges: points.len(), segments: slope.groups })
}

/// A common slope over groups with their own intercepts, with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PooledSlope {
    pub slope: f64,
    pub low: f64,
    pub high: f64,
    pub groups: usize,
}

/// Least squares y = a_g + b·x over points (group, x, y): each group is
/// centred on its own means, the centred points pooled. The interval is
/// b ± t(0.975, n - groups - 1)·√(SSE / (n - groups - 1) / Sxx).
pub fn pooled_slope(points: &[(usize, f64, f64)]) -> Option<PooledSlope> {
    let weighted: Vec<(usize, f64, f64, f64)> = points.iter().map(|&(g, x, y)| (g, x, y, 1.0)).collect();
    pooled_slope_weighted(&weighted)
}

/// [`pooled_slope`] with a weight per point (group, x, y, w): weighted
/// means per group, b = Σw·dx·dy / Σw·dx², and the interval from the
/// weighted residuals, b ± t·√(Σw·r² / (n - groups - 1) / Σw·dx²) (the
/// same with every weight 1; a common scale of the weights cancels).
pub fn pooled_slope_weighted(points: &[(usize, f64, f64, f64)]) -> Option<PooledSlope> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let mut groups: Vec<usize> = points.iter().map(|p| p.0).collect();
    groups.sort_unstable();
    groups.dedup();
    let means: Vec<(usize, f64, f64)> = groups
        .iter()
        .map(|&g| {
            let members: Vec<_> = points.iter().filter(|p| p.0 == g).collect();
            let w: f64 = members.iter().map(|p| p.3).sum();
            (g, members.iter().map(|p| p.3 * p.1).sum::<f64>() / w, members.iter().map(|p| p.3 * p.2).sum::<f64>() / w)
        })
        .collect();
    let centred: Vec<(f64, f64, f64)> = points
        .iter()
        .map(|p| {
            let m = means.iter().find(|m| m.0 == p.0).expect("every group has means");
            (p.1 - m.1, p.2 - m.2, p.3)
        })
        .collect();
    let sxx: f64 = centred.iter().map(|c| c.2 * c.0 * c.0).sum();
    let sxy: f64 = centred.iter().map(|c| c.2 * c.0 * c.1).sum();
    let df = points.len() as f64 - groups.len() as f64 - 1.0;
    if sxx.is_nan() || sxx <= 0.0 || df < 3.0 {
        return None;
    }
    let slope = sxy / sxx;
    let sse: f64 = centred.iter().map(|c| c.2 * (c.1 - slope * c.0).powi(2)).sum();
    let se = (sse / df / sxx).sqrt();
    let t = StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(0.975);
    Some(PooledSlope { slope, low: slope - t * se, high: slope + t * se, groups: groups.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_between_segments_is_not_a_drift() {
        // 10 ppm in both segments, with a 4.69 s step between them.
        let mut points = Vec::new();
        for i in 0..20 {
            let x = i as f64 * 1e8;
            points.push((0, x, 10e-6 * x));
            points.push((1, x + 5e9, 10e-6 * (x + 5e9) + 4.69e9));
        }
        let s = pooled_slope(&points).unwrap();
        assert!((s.slope - 10e-6).abs() < 1e-12, "{s:?}");
        assert!((s.high - s.low).abs() < 1e-9, "exact data: no width");
        assert_eq!(s.groups, 2);
    }

    /// Known answer: x = 1..=6, y = 2, 4, 5, 4, 5, 7 (one group), by hand:
    /// Sxx = 17.5, Sxy = 13.5, slope = 27/35 = 0.771429, SSE = 108/35 =
    /// 3.085714, df = 4, se = √(SSE/4/Sxx) = 0.209956; t(0.975, 4) =
    /// 2.776445 (any t table), so the interval is 0.771429 ± 0.582933.
    #[test]
    fn slope_and_interval_match_a_hand_computed_regression() {
        let ys = [2.0, 4.0, 5.0, 4.0, 5.0, 7.0];
        let points: Vec<(usize, f64, f64)> = ys.iter().enumerate().map(|(i, &y)| (0, i as f64 + 1.0, y)).collect();
        let s = pooled_slope(&points).unwrap();
        assert!((s.slope - 27.0 / 35.0).abs() < 1e-12);
        assert!((s.high - (27.0 / 35.0 + 0.582933)).abs() < 1e-5, "{s:?}");
        assert!((s.low - (27.0 / 35.0 - 0.582933)).abs() < 1e-5, "{s:?}");
    }

    #[test]
    fn a_few_loose_exchanges_do_not_make_a_drift() {
        // The hpet run of the main command: three exchanges of 0.35-0.71 ms
        // at the start, then ~0.5 µs ones at an offset that never moves.
        let e = |t: i64, offset: i64, unc: i64| {
            let mid = t - offset;
            Exchange::from_timestamps(0, mid - unc, t, mid + unc)
        };
        // A 2 s freeze from 1.9 s, 2 s of exchanges on either side.
        let freeze = FaultEffect {
            index: 0,
            kind: clockstorm_protocol::FaultKindName::Freeze,
            began_realtime_ns: 1_900_000_000,
            began_monotonic_ns: 0,
            ended_realtime_ns: 3_900_000_000,
            ended_monotonic_ns: 0,
            achieved_ns: 2_000_000_000,
            detail: None,
            error: None,
        };
        // Before it, the run's first shared-memory exchanges as measured
        // (ms, µs, µs): all but one loose; after it, tight ones at an
        // offset that does not move.
        let first: [(i64, i64, i64); 16] = [
            (70, 234_870, 713_050),
            (240, 308_340, 564_430),
            (350, 212_710, 569_270),
            (450, 326_190, 593_570),
            (560, 184_840, 714_550),
            (630, 25_640, 690),
            (760, 80_110, 215_440),
            (850, -179_810, 470_050),
            (960, -313_640, 632_740),
            (1_050, -282_560, 564_260),
            (1_160, 219_900, 728_820),
            (1_240, 169_970, 459_030),
            (1_350, -196_620, 487_260),
            (1_450, 386_110, 647_980),
            (1_540, 187_060, 687_560),
            (1_670, 199_870, 734_510),
        ];
        let mut exchanges: Vec<Exchange> = first.iter().map(|&(ms, o, u)| e(ms * 1_000_000, o, u)).collect();
        exchanges.extend((50..70).map(|i| e(i * 100_000_000, 25_600 + (i % 3) * 20, 520)));
        let d = drift_ppm(&exchanges, std::slice::from_ref(&freeze)).unwrap();
        assert!(d.ppm.abs() < 0.01 && d.low < 0.0 && d.high > 0.0, "{d:?}");
        // Unweighted, the three would have made it ppm.
        let points: Vec<(usize, f64, f64)> = exchanges.iter().map(|x| ((x.t2_ns >= 1_900_000_000) as usize, x.t2_ns as f64, x.offset_ns as f64)).collect();
        let unweighted = pooled_slope(&points).unwrap().slope * 1e6;
        assert!(unweighted.abs() > 1.0, "{unweighted} ppm");
    }

    #[test]
    fn too_few_points_give_no_estimate() {
        assert!(pooled_slope(&[(0, 1.0, 1.0), (0, 2.0, 2.0), (0, 3.0, 3.5)]).is_none());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    proptest! {
        /// Points exactly on lines of one slope with any intercept per
        /// group give back that slope (steps between groups ignored).
        #[test]
        fn an_exact_common_slope_is_recovered(
            slope in -1e-3f64..1e-3,
            intercepts in prop::collection::vec(-1e10f64..1e10, 1..5),
            per_group in 5usize..40,
        ) {
            let mut points = Vec::new();
            for (g, a) in intercepts.iter().enumerate() {
                for i in 0..per_group {
                    let x = (g * 1000 + i) as f64 * 1e8;
                    points.push((g, x, a + slope * x));
                }
            }
            let s = super::pooled_slope(&points).unwrap();
            prop_assert!((s.slope - slope).abs() < 1e-9, "{:?} vs {}", s, slope);
            prop_assert!(s.low <= s.slope && s.slope <= s.high);
        }
    }
}
