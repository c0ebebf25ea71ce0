//! Reading a results directory back into summaries, plot series and the
//! report files. Record files are streamed a line at a time into the
//! reports crate's one-pass summarizer: memory follows the figures a run
//! keeps (exchanges, timer windows), not the size of its record file.

use std::io::Read;
use std::path::Path;

use clockstorm_protocol::{Manifest, RunRecord};
use clockstorm_reports::gates::GateResult;
use clockstorm_reports::model::Report;
use clockstorm_reports::series::RunSeries;
use clockstorm_reports::summary::Summarizer;
use clockstorm_reports::RunSummary;

use crate::results::{self, ResultsDir};
use crate::runner::RunError;

/// What every run of a results directory adds up to.
#[derive(Debug, Default)]
pub struct Analysis {
    /// In manifest order, runs without a record file left out.
    pub summaries: Vec<RunSummary>,
    pub series: Vec<RunSeries>,
    /// Record lines read and their bytes (throughput figures for `bench`).
    pub records: u64,
    pub bytes: u64,
}

/// Reads every run of `manifest` that has a record file.
pub fn analyze(results: &ResultsDir, manifest: &Manifest) -> Analysis {
    let mut analysis = Analysis::default();
    for run in &manifest.runs {
        let path = results.run_at(&run.dir).records();
        // A run that never started (an interrupted matrix) has no record file.
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                eprintln!("clockstorm: cannot open {}: {e}; run {} left out of the report", path.display(), run.id);
                continue;
            }
        };
        let mut read = match analyze_records(file) {
            Ok(read) => read,
            Err(e) => {
                eprintln!("clockstorm: reading {} failed: {e}; run {} left out of the report", path.display(), run.id);
                continue;
            }
        };
        // One torn last line is what a crash leaves; more is damage worth saying.
        if read.undecodable > 1 {
            eprintln!("clockstorm: {}: {} lines did not decode and were skipped", path.display(), read.undecodable);
        }
        // Said in the report too: a reader of the report cannot see stderr.
        read.summary.undecodable_lines = read.undecodable;
        // A run that ended without its last record (a full disk): the manifest may know why.
        if read.summary.status == "incomplete" {
            if let Some(outcome) = &run.outcome {
                read.summary.apply_outcome(outcome);
            }
        }
        if read.summary.clocksource.is_empty() {
            read.summary.clocksource = run.clocksource.to_string();
            read.summary.run_id = run.id.clone();
            read.series.clocksource = run.clocksource.to_string();
            read.series.run_id = run.id.clone();
        }
        analysis.records += read.records;
        analysis.bytes += read.bytes;
        analysis.summaries.push(read.summary);
        analysis.series.push(read.series);
    }
    analysis
}

/// One run's records, summarized.
pub struct RunRead {
    pub summary: RunSummary,
    pub series: RunSeries,
    pub records: u64,
    pub bytes: u64,
    /// Lines that did not decode (skipped).
    pub undecodable: u64,
}

/// Streams one record file. A line that does not decode is skipped: a
/// crash can leave a half-written last line, and every complete line counts.
/// Lines are parsed where they lie in the read buffer (no copy per line).
pub fn analyze_records(mut input: impl Read) -> std::io::Result<RunRead> {
    let mut summarizer = Summarizer::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut filled, mut records, mut bytes, mut undecodable) = (0usize, 0u64, 0u64, 0u64);
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the buffer
        }
        let n = input.read(&mut buf[filled..])?;
        filled += n;
        let end = if n == 0 {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let mut start = 0;
        for newline in memchr::memchr_iter(b'\n', &buf[..end]).chain((end > 0 && buf[end - 1] != b'\n').then_some(end)) {
            let line = &buf[start..newline];
            start = newline + 1;
            if line.is_empty() {
                continue;
            }
            bytes += line.len() as u64 + 1;
            match RunRecord::from_line(line) {
                Ok(record) => {
                    records += 1;
                    summarizer.push(record);
                }
                Err(_) => undecodable += 1,
            }
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
        if n == 0 {
            break;
        }
    }
    let (summary, series) = summarizer.finish();
    Ok(RunRead { summary, series, records, bytes, undecodable })
}

/// Gate results a run (or its shards) wrote, or none.
pub fn read_gates(dir: &Path) -> Vec<GateResult> {
    std::fs::read_to_string(dir.join(results::GATES_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes summary.json, gates.json and the report in every file format, and
/// returns the report.
pub fn write_reports(results: &ResultsDir, manifest: &Manifest, analysis: Analysis, gates: Vec<GateResult>) -> Result<Report, RunError> {
    results.write_json(results::SUMMARY_FILE, &analysis.summaries)?;
    results.write_json(results::GATES_FILE, &gates)?;
    let report = clockstorm_reports::model::build(manifest.clone(), analysis.summaries, analysis.series, gates);
    results.write_json(results::REPORT_JSON_FILE, &report)?;
    results.write_text(results::REPORT_MARKDOWN_FILE, &clockstorm_reports::markdown::render(&report))?;
    results.write_text(results::JUNIT_FILE, &clockstorm_reports::junit::render(&report))?;
    results.write_text(results::REPORT_HTML_FILE, &clockstorm_reports::html::render(&report))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use clockstorm_protocol::*;

    /// A reader that hands out a few bytes at a time, so lines straddle reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn text() -> String {
        let started = HarnessEvent::RunStarted {
            record_format_version: RECORD_FORMAT_VERSION,
            run_id: "t-hpet".into(),
            clocksource: Clocksource::Hpet,
            accel: Accel::Tcg,
            qemu_argv: vec![],
        };
        let mut lines = vec![RunRecord { host_realtime_ns: 1, host_monotonic_ns: 1, body: RecordBody::Harness(started) }];
        for i in 0..50 {
            let w = Window { index: i, samples: 10, max_gap_ns: 1_000 + i, ..Window::default() };
            lines.push(RunRecord { host_realtime_ns: 2, host_monotonic_ns: 2, body: RecordBody::Guest(GuestMessage::Window(w)) });
        }
        lines.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect()
    }

    #[test]
    fn lines_split_across_reads_and_a_torn_last_line_are_handled() {
        let mut text = text();
        text.push_str(r#"{"host_realtime_ns":3,"host_monotonic_ns":3,"guest":{"type":"wind"#); // a crash mid-write
        for chunk in [1, 7, 4096, 1 << 22] {
            let read = super::analyze_records(Trickle(text.as_bytes(), chunk)).unwrap();
            assert_eq!((read.records, read.undecodable), (51, 1), "chunk {chunk}");
            assert_eq!(read.summary.run_id, "t-hpet");
            assert_eq!(read.summary.samples, 500);
            assert_eq!(read.summary.max_gap_ns, Some(1_049));
        }
    }

    #[test]
    fn a_line_longer_than_the_buffer_still_reads() {
        let long = KernelLog { seq: 0, ts_us: 1, level: 4, message: "x".repeat(3 << 20), read_realtime_ns: None };
        let record = RunRecord { host_realtime_ns: 1, host_monotonic_ns: 1, body: RecordBody::Guest(GuestMessage::KernelLog(long)) };
        let text = serde_json::to_string(&record).unwrap() + "\n" + &text();
        let read = super::analyze_records(Trickle(text.as_bytes(), 1 << 16)).unwrap();
        assert_eq!(read.records, 52);
    }
}
