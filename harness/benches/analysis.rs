//! Analysis throughput: how fast `clockstorm report` reads a results
//! directory, against the limits measured in the same run.
//!
//!     cargo bench -p clockstorm --bench analysis [-- RECORDS]
//!
//! Writes a synthetic results directory of RECORDS record lines (default
//! 10 million: 64 runs of about 67 minutes each, at the probe's rates of
//! ~10 windows, timer windows, counter reads and exchanges per second) in a
//! private temp dir, then reads it three ways on one core:
//!   1. raw: the bytes, newlines counted (the I/O and memory-bandwidth limit);
//!   2. scan: serde_json over every line into `IgnoredAny` (the JSON limit);
//!   3. analysis: `clockstorm::analysis::analyze`, what `report` does.
//!
//! A "sample" here is one record line: one 100 ms sampler window (itself
//! ~100 000 clock reads, aggregated in the guest), timer window, counter
//! read or exchange. Peak memory is VmHWM after the analysis, reset before it.

use std::io::{BufRead, BufWriter, Read, Write};
use std::time::Instant;

use clockstorm::results::ResultsDir;
use clockstorm_protocol::*;

const RUNS: u64 = 64;

fn main() {
    let records: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000_000);
    let per_run = records / RUNS;
    let tmp = tempfile::tempdir().expect("a temp dir");
    let t = Instant::now();
    let (manifest, bytes) = write_results(tmp.path(), per_run);
    println!("synthetic results: {} runs, {} records, {:.2} GB, written in {:.1} s", RUNS, per_run * RUNS, bytes as f64 / 1e9, t.elapsed().as_secs_f64());
    let files: Vec<_> = manifest.runs.iter().map(|r| tmp.path().join(&r.dir).join("records.jsonl")).collect();

    let (n, s) = timed(|| files.iter().map(|f| count_lines(f)).sum::<u64>());
    report("raw read (newlines)", n, bytes, s);
    let (n, s) = timed(|| files.iter().map(|f| scan_json(f)).sum::<u64>());
    report("JSON scan (IgnoredAny)", n, bytes, s);

    reset_peak_rss();
    let (analysis, s) = timed(|| clockstorm::analysis::analyze(&ResultsDir::open(tmp.path()), &manifest));
    report("analysis (report)", analysis.records, analysis.bytes, s);
    println!(
        "peak RSS during analysis: {:.1} MiB (largest record file {:.0} MiB)",
        peak_rss_kib() as f64 / 1024.0,
        bytes as f64 / RUNS as f64 / 1048576.0
    );
    assert_eq!(analysis.summaries.len() as u64, RUNS);
    let lost: Vec<_> = analysis.summaries[0].faults.iter().filter_map(|f| f.lost_ns).collect();
    println!("check: run 0 lost {lost:?} ns across its faults (synthetic: 4687 ms per fault)");
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64())
}

fn report(what: &str, records: u64, bytes: u64, seconds: f64) {
    println!("{what:<24} {:>6.2} M samples/s  {:>7.0} MB/s  ({records} in {seconds:.2} s)", records as f64 / seconds / 1e6, bytes as f64 / seconds / 1e6);
}

fn count_lines(path: &std::path::Path) -> u64 {
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        let got = f.read(&mut buf).unwrap();
        if got == 0 {
            return n;
        }
        n += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
    }
}

fn scan_json(path: &std::path::Path) -> u64 {
    let mut input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let mut line = Vec::with_capacity(4096);
    let mut n = 0;
    while {
        line.clear();
        input.read_until(b'\n', &mut line).unwrap() > 0
    } {
        serde_json::from_slice::<serde::de::IgnoredAny>(&line).unwrap();
        n += 1;
    }
    n
}

/// Writes RUNS record files of `per_run` lines each and their manifest.
fn write_results(root: &std::path::Path, per_run: u64) -> (Manifest, u64) {
    let results = ResultsDir::create(root).unwrap();
    let mut runs = Vec::new();
    let mut bytes = 0;
    for i in 0..RUNS {
        let id = format!("synthetic-{}.r{i}", ["tsc", "hpet", "acpi_pm", "kvm-clock"][i as usize % 4]);
        let dir = format!("runs/{id}");
        std::fs::create_dir_all(root.join(&dir)).unwrap();
        let file = std::fs::File::create(root.join(&dir).join("records.jsonl")).unwrap();
        let mut out = BufWriter::with_capacity(1 << 20, file);
        bytes += write_run(&mut out, &id, per_run);
        out.flush().unwrap();
        runs.push(ManifestRun {
            clocksource: id["synthetic-".len()..id.len() - 3].parse().unwrap(),
            id,
            kernel: "default".into(),
            variant: "default".into(),
            repetition: 0,
            dir,
            outcome: Some(RunOutcome::Completed { wall_ms: 1, requested_ms: 1 }),
            time_service: None,
        });
    }
    let manifest: Manifest = serde_json::from_value(serde_json::json!({
        "manifest_version": MANIFEST_VERSION, "clockstorm_version": "bench", "command_line": [],
        "scenario": {"name": "synthetic", "origin": "bench", "sha256": ""}, "seed": 1, "shard": null,
        "accel": "tcg", "qemu": {"path": "", "version": ""}, "kernels": [],
        "host": {"kernel_release": "", "clocksource": "", "cpu_model": "", "cpus": 1},
        "started_at_unix_ms": 0, "finished_at_unix_ms": null, "runs": runs
    }))
    .expect("the manifest's shape");
    results.write_manifest(&manifest).unwrap();
    (manifest, bytes)
}

/// One run at the probe's rates: every 100 ms a window, a timer window, a
/// counter read and an exchange; a 6 s freeze every 10 minutes that costs
/// one acpi_pm wrap; a kernel line after each.
fn write_run(out: &mut impl Write, id: &str, lines: u64) -> u64 {
    const T0: i64 = 1_764_000_000_000_000_000;
    let mut written = 0u64;
    let mut line = |out: &mut dyn Write, t: i64, body: RecordBody| {
        let record = RunRecord { host_realtime_ns: t, host_monotonic_ns: (t - T0) as u64, body };
        let mut text = serde_json::to_vec(&record).unwrap();
        text.push(b'\n');
        out.write_all(&text).unwrap();
        written += text.len() as u64;
    };
    let started = HarnessEvent::RunStarted {
        record_format_version: RECORD_FORMAT_VERSION,
        run_id: id.into(),
        clocksource: id["synthetic-".len()..id.len() - 3].parse().unwrap(),
        accel: Accel::Tcg,
        qemu_argv: vec![],
    };
    line(out, T0, RecordBody::Harness(started));
    line(out, T0, RecordBody::Harness(HarnessEvent::TimelineOrigin));
    line(out, T0, RecordBody::Guest(GuestMessage::Synced(Synced { best: Exchange::from_timestamps(0, T0, T0, T0), step_ns: 0 })));
    let (mut lost, mut index) = (0i64, 0usize);
    for step in 0..lines / 4 {
        let host = T0 + step as i64 * 100_000_000;
        let guest = host - lost;
        let mono = (guest - T0) as u64;
        if step % 6_000 == 5_940 {
            // A 6 s freeze from here: the guest comes back one wrap behind.
            let effect = FaultEffect {
                index,
                kind: FaultKindName::Freeze,
                began_realtime_ns: host,
                began_monotonic_ns: mono,
                ended_realtime_ns: host + 6_000_000_000,
                ended_monotonic_ns: mono + 6_000_000_000,
                achieved_ns: 6_000_000_000,
                detail: None,
                error: None,
            };
            line(
                out,
                host,
                RecordBody::Harness(HarnessEvent::FaultStarted { index, kind: FaultKindName::Freeze, planned_start_ms: 0, planned_duration_ms: 6_000 }),
            );
            line(out, host + 6_000_000_000, RecordBody::Harness(HarnessEvent::FaultEnded(effect)));
            index += 1;
        }
        if step % 6_000 == 6_000 - 1 {
            lost += 4_687_000_000;
            let message = "clocksource: timekeeping watchdog on CPU0: Marking clocksource 'acpi_pm' as unstable because the skew is too large:".to_owned();
            line(
                out,
                host,
                RecordBody::Guest(GuestMessage::KernelLog(KernelLog { seq: step, ts_us: mono / 1000, level: 4, message, read_realtime_ns: None })),
            );
        }
        let jitter = (step * 7_919 % 1_000) as i64;
        let window = Window {
            index: step,
            cpu: 0,
            clock: Some(ClockId::Monotonic),
            start_ns: mono,
            end_ns: mono + 100_000_000,
            samples: 120_000 + jitter as u64,
            delta: DeltaStats { p50_ns: 559, p99_ns: 3_583, p999_ns: 57_343, max_ns: 1_000_000 + jitter as u64 },
            max_gap_ns: 1_000_000 + jitter as u64,
            max_gap_at_ns: mono + 50_000_000,
            tsc_reads: 7_500,
            tsc_ticks: 260_000_000,
            clock_elapsed_ns: 100_000_000,
            ..Window::default()
        };
        line(out, host, RecordBody::Guest(GuestMessage::Window(window)));
        let ticks = TickWindow {
            index: step,
            rate_hz: 1000,
            mono_ns: mono,
            realtime_ns: guest,
            expirations: step * 100,
            wakeups: step * 100,
            latency: LatencyStats { samples: 100, p50_ns: 131_071, p99_ns: 400_000 + jitter as u64 * 100, max_ns: 1_021_310 },
        };
        line(out, host, RecordBody::Guest(GuestMessage::TickWindow(ticks)));
        let counters = KernelCounters {
            mono_ns: mono,
            realtime_ns: guest,
            local_timer_interrupts: vec![step * 250],
            jiffies: Some(Jiffies { value: 4_294_892_773 + step * 25, realtime_ns: guest }),
            steal_ticks: Some(0),
        };
        line(out, host, RecordBody::Guest(GuestMessage::KernelCounters(counters)));
        let t1 = guest - 300_000 - jitter * 100;
        let exchange = Exchange::from_timestamps(step, t1, host, guest + 300_000 + jitter * 100);
        line(out, host, RecordBody::Guest(GuestMessage::Exchange(exchange)));
    }
    line(out, T0, RecordBody::Harness(HarnessEvent::RunFinished(RunOutcome::Completed { wall_ms: 1, requested_ms: 1 })));
    written
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
