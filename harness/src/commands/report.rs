//! `clockstorm report DIR [--format ...] [--baseline DIR]`: renders the
//! report of an existing results directory again (after a merge, or on
//! another machine), optionally against an earlier results directory.

use std::path::Path;

use clockstorm_protocol::Manifest;
use clockstorm_reports::model::{compare_with_baseline, Report};

use crate::analysis::{analyze, read_gates};
use crate::cli::args::ReportFormat;
use crate::error::Error;
use crate::exit_code;
use crate::runner::ResultsDir;

pub fn run(dir: &Path, format: ReportFormat, baseline: Option<&Path>) -> Result<u8, Error> {
    let manifest = read_manifest(dir, "report")?;
    let analysis = analyze(&ResultsDir::open(dir), &manifest);
    let gates = read_gates(dir);
    let mut report = clockstorm_reports::model::build(manifest.clone(), analysis.summaries, analysis.series, gates);
    if let Some(base) = baseline {
        let base_manifest = read_manifest(base, "baseline")?;
        let base_runs = analyze(&ResultsDir::open(base), &base_manifest).summaries;
        report.baseline = Some(compare_with_baseline(&report.runs, &base_runs, &base.display().to_string(), &base_manifest));
    }
    print!("{}", render(&report, format));
    let code = super::run::exit_code_for(&manifest, &report.gates);
    let regressed = report.baseline.as_ref().is_some_and(|b| b.regressions() > 0);
    Ok(if code == exit_code::SUCCESS && regressed { exit_code::REGRESSION } else { code })
}

fn render(report: &Report, format: ReportFormat) -> String {
    use clockstorm_reports::{html, junit, markdown, terminal};
    match format {
        ReportFormat::Terminal => {
            let mut out = terminal::render(&report.runs);
            out.push('\n');
            if !report.gates.is_empty() {
                out.push_str(&terminal::render_gates(&report.gates));
                out.push('\n');
            }
            out.push_str(&terminal::render_comparisons(report));
            out
        }
        ReportFormat::Json => serde_json::to_string_pretty(report).expect("reports serialize") + "\n",
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Junit => junit::render(report),
        ReportFormat::Html => html::render(report),
    }
}

/// The manifest of a results directory, or an error naming the flag and the file.
fn read_manifest(dir: &Path, flag: &'static str) -> Result<Manifest, Error> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::BadFlag { flag, message: format!("cannot read {}: {e}", path.display()) })?;
    serde_json::from_str(&text).map_err(|e| Error::BadFlag { flag, message: format!("{} is not a clockstorm manifest: {e}", path.display()) })
}
