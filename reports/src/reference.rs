//! Which host reference the offsets came from, and how tight each path was
//! in the same runs: the one sentence every renderer puts under its table.
//! Pure.

use crate::format::ns;
use crate::summary::REFERENCE_SHM;
use crate::RunSummary;

/// The median of `values` (None when empty).
fn median(mut values: Vec<i64>) -> Option<i64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

/// `host reference: shared memory (ivshmem) in 3 of 3 runs, offset bound
/// median 7.6 µs (p99 up to 45 µs); over the data channel in the same runs
/// 630 µs (p99 up to 5.05 ms)`, or the data channel alone. None without
/// exchanges.
pub fn sentence(runs: &[RunSummary]) -> Option<String> {
    let measured: Vec<&RunSummary> = runs.iter().filter(|s| s.offset_uncertainty_median_ns.is_some()).collect();
    if measured.is_empty() {
        return None;
    }
    let shm: Vec<&&RunSummary> = measured.iter().filter(|s| s.reference.as_deref() == Some(REFERENCE_SHM)).collect();
    let bound = |rs: &[&&RunSummary], median_of: fn(&RunSummary) -> Option<i64>, p99_of: fn(&RunSummary) -> Option<i64>| {
        let m = median(rs.iter().filter_map(|s| median_of(s)).collect());
        let p = rs.iter().filter_map(|s| p99_of(s)).max();
        match (m, p) {
            (Some(m), Some(p)) => format!("{} (p99 up to {})", ns(m as f64), ns(p as f64)),
            (Some(m), None) => ns(m as f64),
            _ => "–".into(),
        }
    };
    let all: Vec<&&RunSummary> = measured.iter().collect();
    if shm.is_empty() {
        return Some(format!(
            "host reference: the data channel in {} run(s), offset bound median {}",
            measured.len(),
            bound(&all, |s| s.offset_uncertainty_median_ns, |s| s.offset_uncertainty_p99_ns)
        ));
    }
    let mut out = format!(
        "host reference: shared memory (ivshmem) in {} of {} run(s), offset bound median {}; over the data channel in the same runs {}",
        shm.len(),
        measured.len(),
        bound(&shm, |s| s.offset_uncertainty_median_ns, |s| s.offset_uncertainty_p99_ns),
        bound(&shm, |s| s.channel_offset_uncertainty_median_ns, |s| s.channel_offset_uncertainty_p99_ns),
    );
    if shm.len() < measured.len() {
        out.push_str(&format!("; the other {} over the data channel alone", measured.len() - shm.len()));
    }
    let unanswered: u64 = shm.iter().map(|s| s.shm_exchanges_lost).sum();
    if unanswered > 0 {
        let runs = shm.iter().filter(|s| s.shm_exchanges_lost > 0).count();
        out.push_str(&format!(
            "; {unanswered} shared-memory exchange(s) in {runs} run(s) unanswered within 5 ms (the host's thread not running), counted lost"
        ));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(reference: &str, median: i64, p99: i64, channel: Option<(i64, i64)>) -> RunSummary {
        let mut s = crate::summary::empty_summary();
        s.reference = Some(reference.into());
        s.offset_uncertainty_median_ns = Some(median);
        s.offset_uncertainty_p99_ns = Some(p99);
        s.channel_offset_uncertainty_median_ns = channel.map(|c| c.0);
        s.channel_offset_uncertainty_p99_ns = channel.map(|c| c.1);
        s
    }

    #[test]
    fn both_paths_side_by_side_and_the_runs_without_shared_memory_said() {
        let runs = [run(REFERENCE_SHM, 7_600, 40_000, Some((630_000, 5_000_000))), run(REFERENCE_SHM, 8_000, 45_000, Some((600_000, 4_000_000)))];
        assert_eq!(
            sentence(&runs).unwrap(),
            "host reference: shared memory (ivshmem) in 2 of 2 run(s), offset bound median 8.00 µs (p99 up to 45.0 µs); over the data channel in the same runs 630 µs (p99 up to 5.00 ms)"
        );
        let mixed = [runs[0].clone(), run(crate::summary::REFERENCE_CHANNEL, 600_000, 3_000_000, None)];
        assert!(sentence(&mixed).unwrap().ends_with("; the other 1 over the data channel alone"), "{}", sentence(&mixed).unwrap());
        let channel = [run(crate::summary::REFERENCE_CHANNEL, 600_000, 3_000_000, None)];
        assert_eq!(sentence(&channel).unwrap(), "host reference: the data channel in 1 run(s), offset bound median 600 µs (p99 up to 3.00 ms)");
        assert_eq!(sentence(&[]), None);
        let mut lost = runs.clone();
        lost[1].shm_exchanges_lost = 3;
        assert!(
            sentence(&lost)
                .unwrap()
                .ends_with("; 3 shared-memory exchange(s) in 1 run(s) unanswered within 5 ms (the host's thread not running), counted lost"),
            "{}",
            sentence(&lost).unwrap()
        );
    }
}
