//! `clockstorm run`: scenario + flags -> plan -> guests -> results + summary.

use std::path::{Path, PathBuf};

use clockstorm_protocol::{KernelInfo, Manifest, ManifestRun, QemuInfo, RunOutcome, RunRecord, ScenarioInfo, MANIFEST_VERSION};
use clockstorm_reports::{summarize, terminal, RunSummary};
use sha2::{Digest, Sha256};

use super::time_text::{unix_ms_now, utc_compact};
use crate::cli::args::{BenchArgs, DataChannelArg, RunArgs};
use crate::clocksource::Clocksource;
use crate::error::Error;
use crate::faults::{self, parse_fault, FaultKind};
use crate::initramfs::hex;
use crate::kernel::{self, KernelCache, KernelImage};
use crate::qemu::accel::{self, Accel};
use crate::qemu::args::DataChannelKind;
use crate::runner::{self, ResultsDir, RunContext, RunSpec};
use crate::scenario::{self, duration::parse_duration, LoadedScenario};
use crate::{exit_code, host, probe_binary, signals};

/// Runs `clockstorm bench`: a run whose guests benchmark first.
pub fn bench(args: &BenchArgs, argv: &[String]) -> Result<u8, Error> {
    let phase = parse_duration(&args.phase).map_err(|message| Error::BadFlag { flag: "phase", message })?;
    run(&args.run, argv, Some(phase))
}

/// Runs `clockstorm run` and returns its exit code.
pub fn run(args: &RunArgs, argv: &[String], benchmark_phase: Option<std::time::Duration>) -> Result<u8, Error> {
    let loaded = scenario::load(&args.scenario)?;
    let clocksources = match &args.clocksource {
        Some(names) => names.iter().map(|n| n.parse()).collect::<Result<Vec<Clocksource>, _>>()?,
        None => loaded.scenario.clocksources.clone(),
    };
    if let Some(dup) = clocksources.iter().enumerate().find_map(|(i, c)| clocksources[..i].contains(c).then_some(c)) {
        return Err(Error::BadFlag { flag: "clocksource", message: format!("{dup} is named twice") });
    }
    let mut probe = loaded.scenario.probe.clone();
    if let Some(d) = &args.duration {
        probe.duration = parse_duration(d).map_err(|message| Error::BadFlag { flag: "duration", message })?;
        if probe.duration < probe.window {
            return Err(Error::BadFlag { flag: "duration", message: format!("{d} is shorter than one window") });
        }
    }
    let fault_specs = if args.faults.is_empty() {
        loaded.scenario.faults.clone()
    } else {
        args.faults.iter().map(|f| parse_fault(f)).collect::<Result<Vec<_>, _>>()?
    };
    let fault_events = faults::expand(&fault_specs, loaded.scenario.seed, probe.duration)
        .map_err(|e| Error::BadFlag { flag: "fault", message: e.to_string() })?;
    if !args.allow_commands && fault_events.iter().any(|e| matches!(e.kind, FaultKind::Command { .. })) {
        return Err(Error::BadFlag { flag: "fault", message: "command faults run host commands: add --allow-commands".into() });
    }
    let accel = accel::resolve(args.accel, accel::probe_host());
    let qemu = host::find_qemu(args.qemu.as_deref())?;
    let kernel = find_kernel(args.kernel.as_deref())?;
    let probe_path = probe_binary::locate(
        args.probe.as_deref(),
        std::env::var_os(probe_binary::ENV_VAR).as_deref(),
        &std::env::current_exe().unwrap_or_default(),
    )?;
    let probe_bytes = probe_binary::load(&probe_path)?;
    let (data_channel, modules) = choose_data_channel(args.data_channel, &kernel)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!("{}-{}", loaded.scenario.name, utc_compact(unix_ms_now() / 1000)))
    });
    let results = ResultsDir::create(&out).map_err(|source| Error::OutputNotWritable { path: out.clone(), source })?;
    signals::install().map_err(Error::Signals)?;

    let specs: Vec<RunSpec> = clocksources
        .iter()
        .map(|&cs| RunSpec {
            id: format!("{}-{}", loaded.scenario.name, cs.kernel_name()),
            clocksource: cs,
            guest: loaded.scenario.guest.clone(),
            probe: probe.clone(),
            skip: cs.unavailable_reason(accel),
            benchmark_phase,
            faults: fault_events.clone(),
            allow_commands: args.allow_commands,
        })
        .collect();
    let mut manifest = initial_manifest(&loaded, &specs, accel, data_channel, &qemu, &kernel, argv);
    results.write_manifest(&manifest)?;
    let initramfs_cache = KernelCache::default_location()?.root().parent().map(|p| p.join("initramfs")).unwrap_or_default();
    let cgroup_root = PathBuf::from(faults::cgroup::DEFAULT_ROOT);
    let ctx = RunContext { qemu, accel, kernel, probe: probe_bytes, data_channel, modules, initramfs_cache, cgroup_root };
    eprintln!(
        "clockstorm: scenario {} ({}), {} run(s), accel {accel}, kernel {} ({}), results in {}",
        loaded.scenario.name,
        loaded.origin,
        specs.len(),
        ctx.kernel.release,
        ctx.kernel.origin,
        results.root().display()
    );
    let run_result = runner::run_all(&ctx, &specs, &results, &mut manifest);
    manifest.finished_at_unix_ms = Some(unix_ms_now());
    results.write_manifest(&manifest)?;
    run_result?;

    let summaries = summarize_results(&results, &manifest);
    results.write_json("summary.json", &summaries)?;
    println!("{}", terminal::render(&summaries));
    if benchmark_phase.is_some() {
        println!("{}", clockstorm_reports::bench::render(&summaries));
    }
    println!("results: {}", results.root().display());
    Ok(exit_code_for(&manifest))
}

fn find_kernel(flag: Option<&Path>) -> Result<KernelImage, Error> {
    let cache = KernelCache::default_location()?;
    Ok(kernel::discover(flag, std::env::var_os(kernel::ENV_VAR).as_deref(), &cache, &kernel::host_release(), Path::new("/boot"))?)
}

/// Picks the data channel and reads the modules it needs. Virtio-serial is
/// preferred on the numbers (median exchange round trip under TCG here:
/// 0.62-0.64 ms against 5.6 ms for the ISA UART, ci/bench-data-channel.sh),
/// but it needs the kernel's virtio modules; without them `auto` falls back
/// to the UART.
fn choose_data_channel(arg: DataChannelArg, kernel: &KernelImage) -> Result<(DataChannelKind, Modules), Error> {
    match (arg, &kernel.modules_dir) {
        (DataChannelArg::IsaSerial, _) | (DataChannelArg::Auto, None) => Ok((DataChannelKind::IsaSerial, Vec::new())),
        (_, Some(dir)) => Ok((DataChannelKind::Virtio, virtio_modules(dir)?)),
        (DataChannelArg::Virtio, None) => Err(Error::BadFlag {
            flag: "data-channel",
            message: format!(
                "virtio needs the kernel's modules, and none are known for {}: use --data-channel isa-serial",
                kernel.path.display()
            ),
        }),
    }
}

/// (file name, bytes) of kernel modules, in load order.
type Modules = Vec<(String, Vec<u8>)>;

/// Reads the virtio-serial modules (and their dependencies) for the initramfs.
fn virtio_modules(dir: &Path) -> Result<Modules, Error> {
    let order = kernel::module_load_order(dir, kernel::VIRTIO_CONSOLE_MODULES)?;
    order
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let bytes = std::fs::read(&m.path).map_err(|e| kernel::KernelError::io(&m.path, e))?;
            Ok((format!("{i:02}-{}.ko", m.name), bytes))
        })
        .collect()
}

fn initial_manifest(
    loaded: &LoadedScenario,
    specs: &[RunSpec],
    accel: Accel,
    data_channel: DataChannelKind,
    qemu: &Path,
    kernel: &KernelImage,
    argv: &[String],
) -> Manifest {
    Manifest {
        manifest_version: MANIFEST_VERSION,
        clockstorm_version: env!("CARGO_PKG_VERSION").into(),
        command_line: argv.to_vec(),
        scenario: ScenarioInfo {
            name: loaded.scenario.name.clone(),
            origin: loaded.origin.clone(),
            sha256: hex(&Sha256::digest(loaded.text.as_bytes())),
        },
        seed: loaded.scenario.seed,
        accel: accel.to_string(),
        data_channel: serde_json::to_value(data_channel).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        qemu: QemuInfo { path: qemu.display().to_string(), version: host::qemu_version(qemu) },
        kernel: KernelInfo {
            path: kernel.path.display().to_string(),
            release: kernel.release.clone(),
            sha256: kernel.sha256.clone(),
            size: kernel.size,
            origin: kernel.origin.to_string(),
        },
        host: host::host_info(),
        started_at_unix_ms: unix_ms_now(),
        finished_at_unix_ms: None,
        runs: specs
            .iter()
            .map(|s| ManifestRun {
                id: s.id.clone(),
                clocksource: s.clocksource.kernel_name().into(),
                dir: format!("{}/{}", runner::RUNS_DIR, s.id),
                outcome: None,
            })
            .collect(),
    }
}

/// Summaries of every run that has a record file, in manifest order.
pub fn summarize_results(results: &ResultsDir, manifest: &Manifest) -> Vec<RunSummary> {
    manifest
        .runs
        .iter()
        .filter_map(|run| {
            let text = std::fs::read_to_string(results.root().join(&run.dir).join("records.jsonl")).ok()?;
            // A crash can leave a half-written last line; every complete line counts.
            let records: Vec<RunRecord> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            let mut s = summarize(&records);
            if s.clocksource.is_empty() {
                s.clocksource = run.clocksource.clone();
                s.run_id = run.id.clone();
            }
            Some(s)
        })
        .collect()
}

fn exit_code_for(manifest: &Manifest) -> u8 {
    let outcomes: Vec<Option<&RunOutcome>> = manifest.runs.iter().map(|r| r.outcome.as_ref()).collect();
    if signals::interrupted() || outcomes.iter().any(|o| matches!(o, Some(RunOutcome::Interrupted))) {
        return exit_code::INTERRUPTED;
    }
    let bad = |o: &&Option<&RunOutcome>| {
        matches!(o, None | Some(RunOutcome::Failed { .. }) | Some(RunOutcome::ClocksourceNotHonored { .. }))
    };
    if outcomes.iter().any(|o| bad(&o)) {
        exit_code::RUN_FAILED
    } else {
        exit_code::SUCCESS
    }
}
