//! The table `clockstorm bench` prints: the probe's sampling rate against
//! the bare read loop in the same guest, the exchange uncertainty it
//! achieved over each path (shared memory, data channel) in the same run,
//! and what it costs a CPU-bound task.

use crate::format::ns;
use crate::RunSummary;

pub fn render(summaries: &[RunSummary]) -> String {
    let mut out = String::from(
        "clocksource  bare loop     sampler       ratio   shm median  shm p99    chan. median  chan. p99  task alone    task w/ probe  task cost\n",
    );
    for s in summaries {
        let Some(b) = &s.benchmark else { continue };
        let ratio = b.sampler_reads_per_s / b.raw_reads_per_s;
        let cost = 1.0 - b.task_ops_per_s_with_probe / b.task_ops_per_s_alone;
        let unc = |v: Option<i64>| v.map(|u| ns(u as f64)).unwrap_or_else(|| "–".into());
        // Both exchange paths of the same run: the shared-memory reference
        // (when it ran) and the data channel.
        let shm = s.reference.as_deref() == Some(crate::summary::REFERENCE_SHM);
        let (shm_median, shm_p99, chan_median, chan_p99) = if shm {
            (s.offset_uncertainty_median_ns, s.offset_uncertainty_p99_ns, s.channel_offset_uncertainty_median_ns, s.channel_offset_uncertainty_p99_ns)
        } else {
            (None, None, s.offset_uncertainty_median_ns, s.offset_uncertainty_p99_ns)
        };
        out.push_str(&format!(
            "{:<12} {:>9}/s  {:>9}/s  {:>5.1} %  {:>10}  {:>9}  {:>12}  {:>9}  {:>9}/s  {:>10}/s  {:>7.1} %\n",
            s.clocksource,
            rate(b.raw_reads_per_s),
            rate(b.sampler_reads_per_s),
            ratio * 100.0,
            unc(shm_median),
            unc(shm_p99),
            unc(chan_median),
            unc(chan_p99),
            rate(b.task_ops_per_s_alone),
            rate(b.task_ops_per_s_with_probe),
            cost * 100.0,
        ));
    }
    out
}

/// 12.3M, 456k, 789.
fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
