//! Reading a results directory back into summaries, plot series and the
//! report files. Record files are streamed a line at a time into the
//! reports crate's one-pass summarizer: memory follows the figures a run
//! keeps (exchanges, timer windows), not the size of its record file.

use std::io::BufRead;
use std::path::Path;

use clockstorm_protocol::{Manifest, RunRecord};
use clockstorm_reports::gates::GateResult;
use clockstorm_reports::model::Report;
use clockstorm_reports::series::RunSeries;
use clockstorm_reports::summary::Summarizer;
use clockstorm_reports::RunSummary;

use crate::runner::{ResultsDir, RunError};

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
        let path = results.root().join(&run.dir).join("records.jsonl");
        let Ok(file) = std::fs::File::open(&path) else { continue };
        let Ok(mut read) = analyze_records(std::io::BufReader::with_capacity(1 << 20, file)) else { continue };
        if read.summary.clocksource.is_empty() {
            read.summary.clocksource = run.clocksource.clone();
            read.summary.run_id = run.id.clone();
            read.series.clocksource = run.clocksource.clone();
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
}

/// Streams one record file. A line that does not decode is skipped: a
/// crash can leave a half-written last line, and every complete line counts.
pub fn analyze_records(mut input: impl BufRead) -> std::io::Result<RunRead> {
    let mut summarizer = Summarizer::new();
    let mut line = Vec::with_capacity(4096);
    let (mut records, mut bytes) = (0u64, 0u64);
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        if let Ok(record) = serde_json::from_slice::<RunRecord>(&line) {
            records += 1;
            summarizer.push(&record);
        }
    }
    let (summary, series) = summarizer.finish();
    Ok(RunRead { summary, series, records, bytes })
}

/// Gate results a run (or its shards) wrote, or none.
pub fn read_gates(dir: &Path) -> Vec<GateResult> {
    std::fs::read_to_string(dir.join("gates.json")).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

/// Writes summary.json, gates.json and the report in every file format, and
/// returns the report.
pub fn write_reports(results: &ResultsDir, manifest: &Manifest, analysis: Analysis, gates: Vec<GateResult>) -> Result<Report, RunError> {
    results.write_json("summary.json", &analysis.summaries)?;
    results.write_json("gates.json", &gates)?;
    let report = clockstorm_reports::model::build(manifest.clone(), analysis.summaries, analysis.series, gates);
    results.write_json("report.json", &report)?;
    results.write_text("report.md", &clockstorm_reports::markdown::render(&report))?;
    results.write_text("junit.xml", &clockstorm_reports::junit::render(&report))?;
    results.write_text("report.html", &clockstorm_reports::html::render(&report))?;
    Ok(report)
}
