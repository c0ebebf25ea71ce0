//! `clockstorm run` (and `bench`): parse → plan → host resources → run →
//! render, each stage with one input and one output.

mod manifest;
mod outcome;
mod plan;

use std::time::Duration;

use clockstorm_protocol::Manifest;
use clockstorm_reports::{gates, terminal};

use super::time_text::unix_ms_now;
use crate::cli::args::{BenchArgs, RunArgs};
use crate::duration::parse_duration;
use crate::error::Error;
use crate::host::resources::{self, HostResources};
use crate::plan::RunPlan;
use crate::results::ResultsDir;
use crate::runner::{self, RunContext};
use crate::{faults, guardian, signals};
pub use manifest::scenario_sha256;
pub use outcome::exit_code_for;

/// Runs `clockstorm bench`: a run whose guests benchmark first.
pub fn bench(args: &BenchArgs, argv: &[String]) -> Result<u8, Error> {
    let phase = parse_duration(&args.phase).map_err(|message| Error::BadFlag { flag: "phase", message })?;
    run(&args.run, argv, Some(phase))
}

/// Runs `clockstorm run` and returns its exit code.
pub fn run(args: &RunArgs, argv: &[String], benchmark_phase: Option<Duration>) -> Result<u8, Error> {
    let plan = plan::plan(args, benchmark_phase, argv)?;
    let host = resources::resolve(&plan.host)?;
    let (results, manifest) = execute(&plan, &host)?;
    render(&plan, &results, &manifest)
}

/// A run for another command (`characterize`): plan, host resources, run,
/// and the reports written, without the terminal report. Returns the
/// final manifest and the runs' summaries.
pub fn measure(args: &RunArgs, argv: &[String]) -> Result<(Manifest, Vec<clockstorm_reports::summary::RunSummary>), Error> {
    let plan = plan::plan(args, None, argv)?;
    let host = resources::resolve(&plan.host)?;
    let (results, manifest) = execute(&plan, &host)?;
    let analysis = crate::analysis::analyze(&results, &manifest);
    let rules = clockstorm_reports::predict::RunRules::from_manifest(&manifest);
    let gate_results = gates::evaluate(&analysis.summaries, &plan.limits.gates, &rules);
    let report = crate::analysis::write_reports(&results, &manifest, analysis, gate_results)?;
    Ok((manifest, report.runs))
}

/// Runs the plan's guests into its results directory; returns the final manifest.
fn execute(plan: &RunPlan, host: &HostResources) -> Result<(ResultsDir, Manifest), Error> {
    let results = ResultsDir::create(&plan.out).map_err(|source| Error::OutputNotWritable { path: plan.out.clone(), source })?;
    let specs = plan.specs(&host.kernels, host.accel);
    let mut manifest = manifest::initial(plan, host, &specs);
    let to_run = match &plan.resume {
        Some(old) => manifest::resume(&results, old, &mut manifest),
        None => specs.iter().map(|s| s.id.clone()).collect(),
    };
    results.write_manifest(&manifest)?;
    // Before anything on the host is touched: clean what earlier runs left,
    // then start the guardian that undoes this run's faults if it is killed.
    crate::leftovers::sweep_host();
    let _guardian = guardian::start(&results.guardian_log()).map_err(Error::Guardian)?;
    results.reserve_space()?;
    let _reserve_watch = guardian::watch(guardian::Item::RemoveFile { path: results.root().join(crate::results::RESERVE_FILE) });
    signals::install().map_err(Error::Signals)?;

    crate::output::note(&format!(
        "scenario {} ({}), {} run(s){}, {} backend, accel {}, kernel(s) {}, results in {}",
        plan.scenario.name,
        plan.loaded.origin,
        to_run.len(),
        if to_run.len() < specs.len() { format!(" of {}", specs.len()) } else { String::new() },
        host.backend.kind(),
        host.accel,
        host.kernels.values().map(|k| format!("{} ({})", k.image.release, k.image.origin)).collect::<Vec<_>>().join(", "),
        results.root().display()
    ));
    let pending: Vec<_> = specs.into_iter().filter(|s| to_run.contains(&s.id)).collect();
    if let Some(warning) = runner::oversubscription(plan.jobs.min(pending.len()), plan.scenario.guest.vcpus, runner::host_cpus().len()) {
        crate::output::warn(&warning);
    }
    let progress = crate::output::sink::Progress::for_stderr();
    let ctx = RunContext {
        backend: host.backend.as_ref(),
        accel: host.accel,
        cgroup_root: faults::cgroup::DEFAULT_ROOT.into(),
        stop_requested: signals::interrupted,
        time_service: host.chrony.clone(),
        progress: &progress,
    };
    let run_result = runner::run_all(&ctx, &pending, &results, &mut manifest, plan.jobs);
    progress.finish();
    results.release_reserve();
    manifest.finished_at_unix_ms = Some(unix_ms_now());
    let written = results.write_manifest(&manifest);
    // The run's own error first: a manifest that cannot be written after a
    // full disk is a consequence, and the last one written is still whole.
    if let (Err(run), Err(manifest)) = (&run_result, &written) {
        let _ = run;
        eprintln!("clockstorm: the manifest's last update failed too ({manifest}); the one written before is kept whole");
    }
    run_result?;
    written?;
    Ok((results, manifest))
}

/// Summaries, gates and reports of a finished run; prints the terminal
/// report and returns the exit code.
fn render(plan: &RunPlan, results: &ResultsDir, manifest: &Manifest) -> Result<u8, Error> {
    let analysis = crate::analysis::analyze(results, manifest);
    let rules = clockstorm_reports::predict::RunRules::from_manifest(manifest);
    let gate_results = gates::evaluate(&analysis.summaries, &plan.limits.gates, &rules);
    let report = crate::analysis::write_reports(results, manifest, analysis, gate_results)?;
    let (summaries, gate_results) = (&report.runs, &report.gates);
    println!("{}", terminal::render_decision(&report));
    println!("{}", terminal::render(summaries));
    if plan.benchmark_phase.is_some() {
        println!("{}", clockstorm_reports::bench::render(summaries));
    }
    if !gate_results.is_empty() {
        println!("{}", terminal::render_gates(gate_results));
    }
    print!("{}", terminal::render_comparisons(&report));
    println!("results: {}", results.root().display());
    Ok(exit_code_for(manifest, gate_results))
}
