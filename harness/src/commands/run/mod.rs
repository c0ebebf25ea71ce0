//! `clockstorm run` (and `bench`): scenario + flags -> matrix -> guests ->
//! results, summary and gates.

mod kernels;
mod manifest;
mod outcome;
mod plan;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clockstorm_reports::{gates, terminal};

use super::time_text::{unix_ms_now, utc_compact};
use crate::cli::args::{BenchArgs, RunArgs};
use crate::error::Error;
use crate::kernel::KernelCache;
use crate::qemu::accel;
use crate::runner::{self, ResultsDir, RunContext};
use crate::scenario::duration::parse_duration;
use crate::scenario::{self, matrix};
use crate::{faults, host, probe_binary, signals};
pub use outcome::exit_code_for;

/// Runs `clockstorm bench`: a run whose guests benchmark first.
pub fn bench(args: &BenchArgs, argv: &[String]) -> Result<u8, Error> {
    let phase = parse_duration(&args.phase).map_err(|message| Error::BadFlag { flag: "phase", message })?;
    run(&args.run, argv, Some(phase))
}

/// Runs `clockstorm run` and returns its exit code.
pub fn run(args: &RunArgs, argv: &[String], benchmark_phase: Option<Duration>) -> Result<u8, Error> {
    let loaded = scenario::load(&args.scenario)?;
    let scenario = plan::with_overrides(&loaded.scenario, args)?;
    let fault_events = plan::fault_events(&scenario, args)?;
    let shard = args.shard.as_deref().map(str::parse::<matrix::Shard>).transpose().map_err(|message| Error::BadFlag { flag: "shard", message })?;
    let accel = accel::resolve(args.accel, accel::probe_host());
    let qemu = host::find_qemu(args.qemu.as_deref())?;
    let probe_path = probe_binary::locate(
        args.probe.as_deref(),
        std::env::var_os(probe_binary::ENV_VAR).as_deref(),
        &std::env::current_exe().unwrap_or_default(),
    )?;
    let probe_bytes = probe_binary::load(&probe_path)?;
    let cache = KernelCache::default_location()?;
    let mut kernels = BTreeMap::new();
    for name in &scenario.guest.kernels {
        let image = kernels::resolve(name, args.kernel.as_deref(), &cache)?;
        kernels.insert(name.clone(), kernels::setup(name, image, args.data_channel)?);
    }

    let canonical = matrix::expand(&scenario);
    let selected = match shard {
        Some(s) => matrix::shard(&canonical, s),
        None => canonical,
    };
    let ordered = matrix::shuffled(selected, scenario.seed);
    let specs = plan::specs(&ordered, &scenario, &kernels, accel, benchmark_phase, &fault_events, args);

    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(format!("{}-{}", scenario.name, utc_compact(unix_ms_now() / 1000))));
    let results = ResultsDir::create(&out).map_err(|source| Error::OutputNotWritable { path: out.clone(), source })?;
    let mut manifest = manifest::initial(&loaded, &scenario, &specs, &kernels, accel, &qemu, shard, argv);
    let to_run = if args.resume { manifest::resume(&results, &mut manifest)? } else { specs.iter().map(|s| s.id.clone()).collect() };
    results.write_manifest(&manifest)?;
    signals::install().map_err(Error::Signals)?;

    let initramfs_cache = cache.root().parent().map(|p| p.join("initramfs")).unwrap_or_default();
    let ctx = RunContext { qemu, accel, probe: probe_bytes, initramfs_cache, cgroup_root: PathBuf::from(faults::cgroup::DEFAULT_ROOT) };
    eprintln!(
        "clockstorm: scenario {} ({}), {} run(s){}, accel {accel}, kernel(s) {}, results in {}",
        scenario.name,
        loaded.origin,
        to_run.len(),
        if to_run.len() < specs.len() { format!(" of {}", specs.len()) } else { String::new() },
        kernels.values().map(|k| format!("{} ({})", k.image.release, k.image.origin)).collect::<Vec<_>>().join(", "),
        results.root().display()
    );
    let pending: Vec<_> = specs.into_iter().filter(|s| to_run.contains(&s.id)).collect();
    let jobs = args.jobs as usize;
    if let Some(warning) = runner::oversubscription(jobs.min(pending.len()), scenario.guest.vcpus, runner::host_cpus().len()) {
        eprintln!("clockstorm: warning: {warning}");
    }
    let run_result = runner::run_all(&ctx, &pending, &results, &mut manifest, jobs);
    manifest.finished_at_unix_ms = Some(unix_ms_now());
    results.write_manifest(&manifest)?;
    run_result?;

    let analysis = crate::analysis::analyze(&results, &manifest);
    let gate_results = gates::evaluate(&analysis.summaries, &plan::gate_limits(&scenario.gates));
    let report = crate::analysis::write_reports(&results, &manifest, analysis, gate_results)?;
    let (summaries, gate_results) = (&report.runs, &report.gates);
    println!("{}", terminal::render(summaries));
    if benchmark_phase.is_some() {
        println!("{}", clockstorm_reports::bench::render(summaries));
    }
    if !gate_results.is_empty() {
        println!("{}", terminal::render_gates(gate_results));
    }
    print!("{}", terminal::render_comparisons(&report));
    println!("results: {}", results.root().display());
    Ok(exit_code_for(&manifest, gate_results))
}
