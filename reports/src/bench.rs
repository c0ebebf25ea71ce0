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
        // The median of the slices' ratios where the probe alternated the
        // loops (each against the bare slices around it), else the totals'.
        let ratio = quartiles(&sampler_ratios(&b.bare_slices, &b.sampler_slices))
            .map(|q| q.1)
            .unwrap_or(b.sampler_reads_per_s / b.raw_reads_per_s);
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
    out.push_str(&slices(summaries));
    out.push_str(&parts_table(summaries));
    out.push_str(&boot_table(summaries));
    out
}

/// From QEMU's start to the probe's hello, phase by phase.
fn boot_table(summaries: &[RunSummary]) -> String {
    let rows: Vec<(&str, f64, crate::summary::BootSummary)> =
        summaries.iter().filter_map(|s| Some((s.clocksource.as_str(), s.boot_to_hello_ms?, s.boot?))).collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nboot to hello (QEMU and firmware, and a bzImage's decompression; the kernel to /init; the probe's mounts, config and modules; opening the channel; clocksource wait; HZ and read-cost calibration):\n\
         clocksource  before kernel    kernel  probe setup  channel  clocksource wait  calibration     total\n",
    );
    let ms = |v: f64| ns(v * 1e6);
    for (clocksource, total, b) in rows {
        out.push_str(&format!(
            "{clocksource:<12} {:>13} {:>9} {:>12} {:>8} {:>17} {:>12} {:>9}\n",
            ms(b.before_kernel_ms),
            ms(b.kernel_ms),
            ms(b.probe_setup_ms),
            ms(b.channel_open_ms),
            ms(b.clocksource_settle_ms),
            ms(b.calibration_ms),
            ms(total)
        ));
    }
    out
}

/// The sampler against the bare loop slice by slice: the spread says how
/// far the ratio above can be trusted.
fn slices(summaries: &[RunSummary]) -> String {
    let mut out = String::new();
    for s in summaries {
        let Some(b) = &s.benchmark else { continue };
        let ratios = sampler_ratios(&b.bare_slices, &b.sampler_slices);
        let Some((q1, median, q3)) = quartiles(&ratios) else { continue };
        if out.is_empty() {
            out.push_str("\nsampler / bare loop over slices (each against the bare slices on either side):\n");
        }
        let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        let pc = |v: f64| format!("{:.1} %", v * 100.0);
        out.push_str(&format!(
            "{:<12} {} of {} slices: median {}, middle half {}–{}, range {}–{}\n",
            s.clocksource,
            ratios.len(),
            b.sampler_slices.len(),
            pc(median),
            pc(q1),
            pc(q3),
            pc(lo),
            pc(hi)
        ));
    }
    out
}

/// First quartile, median and third quartile (nearest rank); None when empty. Pure.
fn quartiles(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some((at(0.25), at(0.5), at(0.75)))
}

/// What the task cost is made of: the task beside each part of the probe
/// alone (the channel loop, which forwards every part's messages, runs in
/// each), then beside all of them (the table's "task cost"). The parts do
/// not add up exactly: they share wake-ups and the channel loop.
fn parts_table(summaries: &[RunSummary]) -> String {
    let benches: Vec<(&str, &clockstorm_protocol::BenchResult)> = summaries
        .iter()
        .filter_map(|s| Some((s.clocksource.as_str(), s.benchmark.as_ref()?)))
        .filter(|(_, b)| !b.task_ops_per_s_with_part.is_empty())
        .collect();
    let Some((_, first)) = benches.first() else { return String::new() };
    let names: Vec<&str> = first.task_ops_per_s_with_part.iter().map(|p| p.part.as_str()).collect();
    let mut out = String::from("\ntask cost by part (the task beside one part at a time; each includes the channel loop):\nclocksource ");
    for n in names.iter().chain(std::iter::once(&"all")) {
        out.push_str(&format!(" {n:>10}"));
    }
    out.push('\n');
    for (clocksource, b) in benches {
        // Each part against its own rounds of the task alone.
        let cost = |with: f64, alone: f64| format!("{:>7.1} %", (1.0 - with / alone) * 100.0);
        out.push_str(&format!("{clocksource:<12}"));
        for n in &names {
            let part = b.task_ops_per_s_with_part.iter().find(|p| p.part == *n);
            out.push_str(&format!(" {:>10}", part.map(|p| cost(p.task_ops_per_s, p.task_ops_per_s_alone)).unwrap_or_else(|| "–".into())));
        }
        out.push_str(&format!(" {:>10}\n", cost(b.task_ops_per_s_with_probe, b.task_ops_per_s_alone)));
    }
    out
}

/// Each sampler slice's rate over the mean of the bare slices around it
/// (`bare` has one slice more than `sampler`, first and last). Pure.
pub fn sampler_ratios(bare: &[f64], sampler: &[f64]) -> Vec<f64> {
    sampler.iter().enumerate().filter_map(|(i, s)| Some(s / ((bare.get(i)? + bare.get(i + 1)?) / 2.0))).collect()
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

#[cfg(test)]
mod tests {
    use clockstorm_protocol::{BenchPart, BenchResult};

    use super::*;

    fn bench_run(clocksource: &str, sampler_slices: Vec<f64>, parts: &[(&str, f64)]) -> RunSummary {
        let mut s = crate::summary::empty_summary();
        s.clocksource = clocksource.into();
        s.reference = Some(crate::summary::REFERENCE_SHM.into());
        (s.offset_uncertainty_median_ns, s.offset_uncertainty_p99_ns) = (Some(4_300), Some(670_000));
        (s.channel_offset_uncertainty_median_ns, s.channel_offset_uncertainty_p99_ns) = (Some(570_000), Some(2_100_000));
        s.boot_to_hello_ms = Some(3_120.0);
        s.boot = Some(crate::summary::BootSummary {
            before_kernel_ms: 520.0,
            kernel_ms: 2_040.0,
            probe_setup_ms: 50.0,
            channel_open_ms: 10.0,
            clocksource_settle_ms: 2.0,
            calibration_ms: 498.0,
        });
        s.benchmark = Some(BenchResult {
            phase_ms: 2_000,
            raw_reads_per_s: 10_000_000.0,
            sampler_reads_per_s: 9_700_000.0,
            bare_slices: if sampler_slices.is_empty() { vec![] } else { vec![10e6; sampler_slices.len() + 1] },
            sampler_slices,
            task_ops_per_s_alone: 500e6,
            task_ops_per_s_with_probe: 460e6,
            task_ops_per_s_with_part: parts
                .iter()
                .map(|&(p, ops)| BenchPart { part: p.into(), task_ops_per_s_alone: 500e6, task_ops_per_s: ops })
                .collect(),
        });
        s
    }

    #[test]
    fn the_table_the_slices_and_the_cost_by_part() {
        let runs = [
            bench_run(
                "tsc",
                vec![9.6e6, 9.8e6, 9.7e6],
                &[("channel", 495e6), ("timer", 470e6), ("bare timer", 472e6), ("poller", 490e6), ("exchanges", 485e6)],
            ),
            // A probe before the slices and the parts: the table alone.
            bench_run("hpet", vec![], &[]),
        ];
        let out = render(&runs);
        insta::assert_snapshot!(out);
        assert!(out.contains("97.0 %"), "the median of the slices: {out}");
        assert!(out.contains("tsc          3 of 3 slices: median 97.0 %, middle half 97.0 %–98.0 %, range 96.0 %–98.0 %"), "{out}");
        assert!(out.contains("6.0 %") && out.contains("8.0 %"), "timer alone 6 %, all 8 %: {out}");
    }

    #[test]
    fn each_sampler_slice_is_compared_with_the_bare_slices_around_it() {
        // The guest speeds up by a tenth per slice; the sampler keeps 95 %.
        let bare = [100.0, 110.0, 121.0, 133.1];
        let sampler = [0.95 * 105.0, 0.95 * 115.5, 0.95 * 127.05];
        let r = sampler_ratios(&bare, &sampler);
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|x| (x - 0.95).abs() < 1e-9), "{r:?}");
        assert_eq!(sampler_ratios(&bare[..2], &sampler).len(), 1, "a slice without a bare slice after it is not compared");
    }
}
