//! A fixed, made-up but plausible report for renderer snapshots: hpet and
//! acpi_pm, three repetitions each, one 6 s freeze that costs acpi_pm one
//! wrap (4.69 s); and reports of other settings built the same way, for
//! the decision's snapshots. Fixed times, paths and host: nothing to redact.

use clockstorm_protocol::*;

use crate::faults::{FaultKernelEvent, FaultSummary};
use crate::gates::GateResult;
use crate::kernel_events::Parser;
use crate::model::{build, Report};
use crate::series::{Bin, Mark, Point, RunSeries, Span};
use crate::summary::tests::completed_run;

pub fn manifest(runs: Vec<ManifestRun>) -> Manifest {
    Manifest {
        manifest_version: MANIFEST_VERSION,
        clockstorm_version: "0.1.0".into(),
        command_line: vec!["clockstorm".into(), "run".into(), "vf-reload".into()],
        scenario: ScenarioInfo { name: "vf-reload".into(), origin: "shipped scenario vf-reload".into(), sha256: "ab".repeat(32) },
        seed: 1,
        shard: None,
        accel: Accel::Tcg,
        qemu: QemuInfo { path: "/usr/bin/qemu-system-x86_64".into(), version: "QEMU emulator version 7.2.22".into() },
        kernels: vec![KernelInfo {
            name: "default".into(),
            path: "/cache/vmlinuz".into(),
            release: "6.1.0-50-cloud-amd64".into(),
            sha256: "3d616aa853fe11b1c0ea99a1cdb4fb6ddc9010ba7c4562de700ad94264989654".into(),
            size: 14_149_568,
            origin: "kernel cache entry debian-bookworm-cloud-amd64".into(),
            data_channel: "virtio".into(),
            boot_entry: "pvh".into(),
            boot_note: None,
            clock_rule: None,
        }],
        host: HostInfo {
            kernel_release: "6.18.0".into(),
            clocksource: "tsc".into(),
            cpu_model: "test cpu".into(),
            cpu_flags: vec!["constant_tsc".into(), "nonstop_tsc".into()],
            cpus: 2,
        },
        started_at_unix_ms: 1_764_000_000_000,
        finished_at_unix_ms: Some(1_764_000_060_000),
        runs,
        standalone: None,
    }
}

fn unstable_event() -> crate::kernel_events::KernelEvent {
    let mut p = Parser::new();
    let lines = [
        "clocksource: timekeeping watchdog on CPU0: Marking clocksource 'acpi_pm' as unstable because the skew is too large:",
        "clocksource:                       'hpet' wd_nsec: 6000400000 wd_now: 5f3a2b1c wd_last: 3a2b1c0d mask: ffffffff",
        "clocksource:                       'acpi_pm' cs_nsec: 1313400000 cs_now: 7a1b2c cs_last: 2b1c0d mask: ffffff",
        "clocksource:                       'acpi_pm' is current clocksource.",
    ];
    let mut events = Vec::new();
    for line in lines {
        events.extend(p.push_message(Some(8_400_000), line));
    }
    events.extend(p.finish());
    events.into_iter().next().expect("the parser knows this line")
}

fn fault(lost_ns: i64, events: Vec<FaultKernelEvent>) -> FaultSummary {
    FaultSummary {
        index: 0,
        kind: FaultKindName::Freeze,
        planned_start_ms: 2_000,
        planned_duration_ms: 6_000,
        achieved_ns: 6_000_400_000,
        error: None,
        lost_ns: Some(lost_ns),
        lost_uncertainty_ns: Some(400_000),
        rate: None,
        max_gap_ns: Some(6_001_000_000),
        detail: None,
        kernel_events: events,
        recovery_s: if lost_ns.abs() < 1_000_000 { Some(0.1) } else { None },
        correction: None,
        // The wrap-losing guest also stood still for part of a wrap after
        // the freeze, and the freeze was charged to an RT task.
        clock_stops: if lost_ns > 1_000_000_000 { vec![stood_still()] } else { Vec::new() },
        rt_throttled_ns: (lost_ns > 1_000_000_000).then_some(1_310_000_000),
        backsteps: Vec::new(),
    }
}

fn stood_still() -> crate::faults::FaultClockStop {
    crate::faults::FaultClockStop {
        after_start_s: 6.0,
        during_fault_ns: 0,
        stop: crate::liveness::ClockStop {
            clock: "monotonic".into(),
            value_ns: 8_003_000_000,
            lowest_ns: 8_003_000_000,
            steps_back: 0,
            first_seen_ns: 1_796_000_006_000_000_000,
            last_seen_ns: 1_796_000_007_250_000_000,
            resumed_ns: Some(1_796_000_007_500_000_000),
            jump_ns: Some(240_000_000),
            beacons: 5,
            tsc_ticks: 2_500_000_000,
            timer_wakeups: 0,
            sampler_reads: 1_200_000,
            sampler_tsc_ticks: 2_900_000_000,
        },
    }
}

/// One run's plot series: offsets every 100 ms for 12 s, a step of `lost_ms`
/// after the fault (2 s to 8 s), a backlog that climbs during the fault.
fn series(run_id: &str, clocksource: &str, lost_ms: f64, wobble: f64) -> RunSeries {
    let offset_ms = (0..120)
        .filter(|i| !(20..80).contains(i))
        .map(|i| {
            let x = i as f64 / 10.0;
            let noise = wobble * ((i * 7 % 11) as f64 - 5.0) / 50.0;
            Point { x, y: if x > 8.0 { lost_ms } else { 0.0 } + noise }
        })
        .collect();
    let backlog_ticks = (0..120)
        .map(|i| {
            let x = i as f64 / 10.0;
            let y = if x < 2.0 {
                0.2
            } else if x < 8.0 {
                (x - 2.0) * 1000.0
            } else {
                6000.0 - (x - 8.0) * 3000.0
            };
            Point { x, y: y.max(0.2) }
        })
        .collect();
    let kernel_events = if lost_ms > 1.0 {
        vec![Mark { t_s: 8.4, kind: "clocksource_unstable".into(), summary: "acpi_pm marked unstable: skew is too large".into() }]
    } else {
        vec![]
    };
    RunSeries {
        run_id: run_id.into(),
        clocksource: clocksource.into(),
        offset_ms,
        backlog_ticks,
        gap_histogram: vec![
            Bin { low_ns: 1 << 19, high_ns: 1 << 20, count: 40 },
            Bin { low_ns: 1 << 20, high_ns: 1 << 21, count: 51 },
            Bin { low_ns: 1 << 21, high_ns: 1 << 22, count: 7 },
            Bin { low_ns: 1 << 22, high_ns: 1 << 23, count: 0 },
            Bin { low_ns: 1 << 32, high_ns: 1 << 33, count: 1 },
        ],
        latency_p99_cdf: (1..=20).map(|i| Point { x: 100.0 + 40.0 * i as f64 + wobble * 10.0, y: i as f64 / 20.0 }).collect(),
        faults: vec![Span { index: 0, kind: FaultKindName::Freeze, start_s: 2.0, end_s: 8.0 }],
        kernel_events,
    }
}

/// One setting of a fixture: a clocksource whose 6 s freeze costs it
/// `lost_ns` (more than a second: a wrap, with what follows one: the
/// watchdog's mark, a change to hpet, a clock that stood still, RT
/// throttling), with a read cost, over `repetitions` runs.
pub struct FixtureSetting {
    pub clocksource: &'static str,
    pub lost_ns: i64,
    pub read_cost_ns: f64,
    pub repetitions: u32,
}

/// The fixture report: acpi_pm loses a wrap, hpet nothing; one gate each.
pub fn report() -> Report {
    let (runs, summaries, series) = fixture_runs(&[
        FixtureSetting { clocksource: "acpi_pm", lost_ns: 4_687_000_000, read_cost_ns: 2_410.0, repetitions: 3 },
        FixtureSetting { clocksource: "hpet", lost_ns: 40_000, read_cost_ns: 1_534.0, repetitions: 3 },
    ]);
    build(manifest(runs), summaries, series, gates())
}

/// The manifest entries, summaries and plot series of `settings`' runs.
pub fn fixture_runs(settings: &[FixtureSetting]) -> (Vec<ManifestRun>, Vec<crate::RunSummary>, Vec<RunSeries>) {
    let mut runs = Vec::new();
    let mut summaries = Vec::new();
    let mut all_series = Vec::new();
    for &FixtureSetting { clocksource, lost_ns, read_cost_ns, repetitions } in settings {
        let loses_a_wrap = lost_ns > 1_000_000_000;
        for rep in 0..repetitions {
            let id = format!("vf-reload-{clocksource}.r{rep}");
            runs.push(ManifestRun {
                id: id.clone(),
                clocksource: clocksource.parse().expect("a clocksource"),
                kernel: "default".into(),
                variant: "default".into(),
                repetition: rep,
                dir: format!("runs/{id}"),
                outcome: Some(RunOutcome::Completed { wall_ms: 14_000, requested_ms: 12_000 }),
                time_service: None,
            });
            let mut s = crate::summarize(&completed_run());
            s.run_id = id.clone();
            s.clocksource = clocksource.into();
            s.clocksource_in_guest = Some(clocksource.into());
            s.max_gap_ns = Some(6_001_000_000 + rep as u64 * 1_000_000);
            s.read_cost_ns = Some(read_cost_ns + rep as f64 * 20.0);
            if loses_a_wrap {
                // The watchdog gave up on the clocksource and the kernel moved to hpet.
                s.clocksource_changes = vec![format!("{clocksource} -> hpet")];
                s.final_clocksource = Some("hpet".into());
                s.switches = vec![crate::faults::SwitchCost {
                    from: clocksource.into(),
                    to: "hpet".into(),
                    at_s: 8.5,
                    offset_step_ns: Some(120_000 + rep as i64 * 10_000),
                    uncertainty_ns: Some(400_000),
                }];
                s.kernel_events.push(unstable_event());
                s.clock_stops.push(stood_still().stop);
            }
            let events = if loses_a_wrap { vec![FaultKernelEvent { after_start_s: 6.4, event: unstable_event() }] } else { vec![] };
            s.faults = vec![fault(lost_ns + rep as i64 * 150_000, events)];
            all_series.push(series(&id, clocksource, lost_ns as f64 / 1e6, rep as f64 + 1.0));
            summaries.push(s);
        }
    }
    (runs, summaries, all_series)
}

/// The report of `settings`' runs, without gates.
pub fn report_of(settings: &[FixtureSetting]) -> Report {
    let (runs, summaries, series) = fixture_runs(settings);
    build(manifest(runs), summaries, series, vec![])
}

fn gates() -> Vec<GateResult> {
    vec![
        GateResult { run_id: "vf-reload-hpet.r0".into(), gate: "time_lost".into(), passed: true, message: "time lost 40.0 µs, allowed 10.0 ms".into() },
        GateResult { run_id: "vf-reload-acpi_pm.r0".into(), gate: "time_lost".into(), passed: false, message: "time lost 4.69 s, allowed 10.0 ms".into() },
    ]
}

#[test]
fn the_fixture_has_every_part_a_renderer_draws() {
    let r = report();
    assert_eq!(r.series.len(), 6);
    assert!(r.comparisons.iter().any(|c| c.metric == "time lost, fault 0" && c.differs), "{:#?}", r.comparisons);
    assert!(r.verdicts.iter().any(|v| v.clocksource == "acpi_pm"));
    assert!(!r.groups.is_empty());
}
