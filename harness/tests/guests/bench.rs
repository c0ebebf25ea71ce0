//! `clockstorm bench` in a real guest: the bare loop against the sampler,
//! and the task beside each part of the probe, the bare timer among them.

use crate::support::*;

/// Short phases: this checks that every figure is measured and sane, not
/// what it is (the README's figures come from full-length benches).
#[test]
fn the_bench_measures_the_limits_and_every_part_of_the_probe() {
    let (out, o) = clockstorm(&["bench", "idle", "--clocksource", "acpi_pm", "--duration", "1s", "--phase", "400ms"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = summaries(out.path()).remove(0);
    let b = s.benchmark.as_ref().unwrap_or_else(|| panic!("no benchmark in {s:#?}"));
    let ctx = format!("{b:#?}");
    assert!(b.raw_reads_per_s > 0.0 && b.sampler_reads_per_s > 0.0, "{ctx}");
    // Slice by slice the ratio ranges widely under TCG; the mean of all of
    // them is within a factor of two of the bare loop or something is off.
    let ratio = b.sampler_reads_per_s / b.raw_reads_per_s;
    assert!((0.5..2.0).contains(&ratio), "sampler / bare loop {ratio}: {ctx}");
    assert_eq!(b.bare_slices.len(), b.sampler_slices.len() + 1, "{ctx}");
    let names: Vec<&str> = b.task_ops_per_s_with_part.iter().map(|p| p.part.as_str()).collect();
    assert_eq!(names, ["channel", "timer", "bare timer", "poller", "kmsg", "exchanges"], "{ctx}");
    for p in &b.task_ops_per_s_with_part {
        // A part that stopped the task, or a task that ran at twice its
        // own speed beside a part, is a broken measurement.
        let kept = p.task_ops_per_s / p.task_ops_per_s_alone;
        assert!((0.3..1.5).contains(&kept), "{}: {kept}: {ctx}", p.part);
    }
    assert!(b.task_ops_per_s_with_probe > 0.0 && b.task_ops_per_s_alone > 0.0, "{ctx}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("bare timer") && table.contains("sampler / bare loop"), "{}", text(&o));
}
