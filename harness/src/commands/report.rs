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
use crate::results::ResultsDir;

pub fn run(dir: &Path, format: ReportFormat, baseline: Option<&Path>) -> Result<u8, Error> {
    let manifest = read_manifest(dir).map_err(|message| Error::BadResultsDir { path: dir.to_owned(), message })?;
    let analysis = analyze(&ResultsDir::open(dir), &manifest);
    let gates = read_gates(dir);
    let mut report = clockstorm_reports::model::build(manifest.clone(), analysis.summaries, analysis.series, gates);
    if let Some(base) = baseline {
        let base_manifest = read_manifest(base).map_err(|message| Error::BadFlag { flag: "baseline", message })?;
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
            let mut out = String::new();
            // Runs clockstorm did not start say where they ran (the other
            // formats carry it in their provenance).
            if let Some(info) = &report.provenance.standalone {
                clockstorm_reports::standalone::lines(info).iter().for_each(|l| out.push_str(&format!("{l}\n")));
                out.push('\n');
            }
            out.push_str(&terminal::render_decision(report));
            out.push('\n');
            out.push_str(&terminal::render(&report.runs));
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
        ReportFormat::Csv => clockstorm_reports::csv::render(report),
    }
}

/// The manifest of a results directory, or what is wrong with it (naming the file).
fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    ResultsDir::open(dir).read_manifest().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_a_manifest_is_named_not_a_flag() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(dir.path(), ReportFormat::Terminal, None).unwrap_err();
        assert_eq!(e.exit_code(), exit_code::USAGE);
        let text = e.to_string();
        let prefix = format!("results directory {}: cannot read {}: ", dir.path().display(), dir.path().join("manifest.json").display());
        assert!(text.starts_with(&prefix), "{text}");
        std::fs::write(dir.path().join("manifest.json"), "[]").unwrap();
        let text = run(dir.path(), ReportFormat::Terminal, None).unwrap_err().to_string();
        assert!(text.starts_with(&format!("results directory {}: ", dir.path().display())), "{text}");
        assert!(text.contains("is not a clockstorm manifest") && !text.contains("--report"), "{text}");
    }
}
