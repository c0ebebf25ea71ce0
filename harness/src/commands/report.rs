//! `clockstorm report DIR [--format terminal|json]`: renders the report of
//! an existing results directory again (after a merge, or on another machine).

use std::path::Path;

use clockstorm_protocol::Manifest;
use clockstorm_reports::gates::GateResult;

use crate::cli::args::ReportFormat;
use crate::error::Error;
use crate::runner::ResultsDir;

pub fn run(dir: &Path, format: ReportFormat) -> Result<u8, Error> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::BadFlag { flag: "report", message: format!("cannot read {}: {e}", path.display()) })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::BadFlag { flag: "report", message: format!("{} is not a clockstorm manifest: {e}", path.display()) })?;
    let results = ResultsDir::open(dir);
    let summaries = super::run::summarize_results(&results, &manifest);
    let gates: Vec<GateResult> =
        std::fs::read_to_string(dir.join("gates.json")).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    match format {
        ReportFormat::Terminal => {
            println!("{}", clockstorm_reports::terminal::render(&summaries));
            if !gates.is_empty() {
                println!("{}", clockstorm_reports::terminal::render_gates(&gates));
            }
        }
        ReportFormat::Json => {
            let report = clockstorm_reports::model::build(manifest.clone(), summaries, gates.clone());
            println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
        }
        ReportFormat::Markdown => {
            print!("{}", clockstorm_reports::markdown::render(&clockstorm_reports::model::build(manifest.clone(), summaries, gates.clone())));
        }
        ReportFormat::Junit => {
            print!("{}", clockstorm_reports::junit::render(&clockstorm_reports::model::build(manifest.clone(), summaries, gates.clone())));
        }
    }
    Ok(super::run::exit_code_for(&manifest, &gates))
}
