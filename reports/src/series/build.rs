//! A run's plot series from what the summarizer collected in its one pass.

use clockstorm_protocol::{Exchange, FaultEffect, TickWindow};

use super::{decimate, quantile_points, Bin, Mark, Point, RunSeries, Span, MAX_CDF_POINTS, MAX_POINTS};
use crate::kernel_events::KernelEvent;
use crate::timebase::Timebase;

/// Everything a run's plots are drawn from. Host times are CLOCK_REALTIME ns.
pub struct SeriesInputs<'a> {
    pub run_id: &'a str,
    pub clocksource: &'a str,
    /// Host time of the timeline origin; the first exchange stands in when
    /// the run never got that far.
    pub origin_realtime_ns: Option<i64>,
    /// Exchanges after the sync.
    pub exchanges: &'a [Exchange],
    pub ticks: &'a [TickWindow],
    /// Largest gap of each sampler window.
    pub window_gaps: &'a [u64],
    pub faults: &'a [FaultEffect],
    /// Clock events with the host time of their first line.
    pub kernel_events: &'a [(i64, KernelEvent)],
    pub timebase: &'a Timebase,
}

pub fn of_run(input: &SeriesInputs) -> RunSeries {
    let origin = input.origin_realtime_ns.or_else(|| input.exchanges.first().map(|e| e.t2_ns)).unwrap_or(0);
    let seconds = |host_ns: i64| (host_ns - origin) as f64 / 1e9;
    let offset: Vec<Point> = input.exchanges.iter().map(|e| Point { x: seconds(e.t2_ns), y: e.offset_ns as f64 / 1e6 }).collect();
    let rate = input.ticks.first().map(|t| t.rate_hz as f64).unwrap_or(0.0);
    let expirations: Vec<(i64, u64)> = input.ticks.iter().map(|t| (t.realtime_ns, t.expirations)).collect();
    let backlog: Vec<Point> = crate::ticks::backlog_points(&expirations, rate, input.timebase)
        .unwrap_or_default()
        .into_iter()
        .map(|(host, ticks)| Point { x: seconds(host), y: ticks })
        .collect();
    let mut latency: Vec<f64> = input.ticks.iter().filter(|t| t.latency.samples > 0).map(|t| t.latency.p99_ns as f64 / 1e3).collect();
    RunSeries {
        run_id: input.run_id.to_owned(),
        clocksource: input.clocksource.to_owned(),
        offset_ms: decimate(&offset, MAX_POINTS),
        backlog_ticks: decimate(&backlog, MAX_POINTS),
        gap_histogram: power_of_two_bins(input.window_gaps),
        latency_p99_cdf: quantile_points(&mut latency, MAX_CDF_POINTS),
        faults: input
            .faults
            .iter()
            .map(|f| Span { index: f.index, kind: f.kind, start_s: seconds(f.began_realtime_ns), end_s: seconds(f.ended_realtime_ns) })
            .collect(),
        kernel_events: input
            .kernel_events
            .iter()
            .map(|(t, e)| Mark { t_s: seconds(*t), kind: e.kind().to_owned(), summary: e.summary() })
            .collect(),
    }
}

/// Counts values into bins [2^k, 2^(k+1)) ns, from the lowest to the highest
/// non-empty bin (empty bins between them included, so the axis is even).
pub fn power_of_two_bins(values: &[u64]) -> Vec<Bin> {
    let mut counts = [0u64; 64];
    for &v in values {
        counts[63 - v.max(1).leading_zeros() as usize] += 1;
    }
    let (Some(lo), Some(hi)) = (counts.iter().position(|&c| c > 0), counts.iter().rposition(|&c| c > 0)) else {
        return Vec::new();
    };
    (lo..=hi)
        .map(|k| Bin { low_ns: 1u64 << k, high_ns: if k == 63 { u64::MAX } else { 1u64 << (k + 1) }, count: counts[k] })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn gaps_fall_in_power_of_two_bins() {
        let bins = super::power_of_two_bins(&[1_000, 1_500, 1_023, 4_096, 0]);
        let as_tuples: Vec<(u64, u64, u64)> = bins.iter().map(|b| (b.low_ns, b.high_ns, b.count)).collect();
        assert_eq!(as_tuples[0], (1, 2, 1), "0 counts as the lowest bin");
        assert_eq!(as_tuples[9], (512, 1024, 2)); // 1000 and 1023
        assert_eq!(as_tuples[10], (1024, 2048, 1));
        assert_eq!(*as_tuples.last().unwrap(), (4096, 8192, 1));
        assert!(super::power_of_two_bins(&[]).is_empty());
    }
}
