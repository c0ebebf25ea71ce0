//! `clockstorm characterize`: measures a kernel's clock rules on a narrow
//! clocksource (docs/clock-model.md, "Per-kernel profiles").
//!
//! Each guest is an ordinary `run` of a generated scenario (kept in the
//! results directory as evidence) with several whole-VM freezes; the
//! search (`search.rs`) picks the lengths of the next guest's freezes from
//! what the earlier ones did, until every change of outcome is bracketed
//! to within the resolution or the guests are spent. The profile goes
//! beside the kernel in the kernel cache and to `<out>/profile.json`.

mod search;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clockstorm_protocol::{ClockProfile, Clocksource, FreezeObservation, FreezeOutcome, ProfileProvenance, ProfiledKernel, CLOCK_PROFILE_VERSION};
use clockstorm_reports::format::ns;
use clockstorm_reports::predict::{rule_from_profile, wrap_ns};
use clockstorm_reports::summary::RunSummary;

use super::time_text::{unix_ms_now, utc_compact};
use crate::cli::args::{CharacterizeArgs, RunArgs};
use crate::duration::parse_duration;
use crate::error::Error;
use crate::kernel::{profiles, KernelCache};
use crate::plan::BackendKind;
pub use search::{boundaries, classify, next_lengths, Point, SearchSettings};

/// When the first freeze starts after the probe's sync.
const FIRST_FREEZE_AT: Duration = Duration::from_secs(2);
/// Settling after each freeze, beyond a clock that waits for the next wrap
/// (up to half a wrap): the time-lost figure needs exchanges after it.
const SETTLE: Duration = Duration::from_millis(1_500);
/// How long before a freeze the kernel may last have read the counter: one
/// tick (a run that reports its HZ replaces it).
use clockstorm_reports::backsteps::DEFAULT_TICK_NS;

/// The validated command.
struct Plan {
    kernel: String,
    clocksource: Clocksource,
    wrap_ns: f64,
    settings: SearchSettings,
    out: PathBuf,
    args_backend: BackendKind,
}

pub fn run(args: &CharacterizeArgs, argv: &[String]) -> Result<u8, Error> {
    let plan = plan(args)?;
    std::fs::create_dir_all(&plan.out).map_err(|source| Error::OutputNotWritable { path: plan.out.clone(), source })?;
    let started = Instant::now();
    let started_unix_ms = unix_ms_now();
    eprintln!(
        "clockstorm: characterizing {} on {} from {} to {}, ± {} per boundary, at most {} guests of {} freezes; results in {}",
        plan.kernel,
        plan.clocksource,
        ns(plan.settings.from_ns as f64),
        ns(plan.settings.to_ns as f64),
        ns(plan.settings.resolution_ns as f64),
        plan.settings.max_guests,
        plan.settings.freezes_per_guest,
        plan.out.display()
    );
    let mut observations: Vec<FreezeObservation> = Vec::new();
    let mut unmeasured: Vec<u64> = Vec::new();
    let mut guests = 0u32;
    let mut settings = plan.settings.clone();
    let mut last_manifest = None;
    loop {
        let points = points(&observations);
        let lengths = next_lengths(&settings, &points, &unmeasured, guests);
        if lengths.is_empty() || crate::signals::interrupted() {
            break;
        }
        guests += 1;
        let run_args = guest_run(args, &plan, guests, &lengths)?;
        eprintln!("clockstorm: guest {guests}: freezes of {}", lengths.iter().map(|l| ns(*l as f64)).collect::<Vec<_>>().join(", "));
        let (manifest, summaries) = super::run::measure(&run_args, argv)?;
        let Some(summary) = summaries.first() else {
            eprintln!("clockstorm: guest {guests} recorded nothing; stopping");
            break;
        };
        if let Some(hz) = summary.hz.filter(|h| *h > 0) {
            settings.slack_ns = 1_000_000_000 / hz as u64;
        }
        let seen = observe(summary, guests, &lengths, plan.wrap_ns);
        for o in &seen {
            eprintln!(
                "clockstorm:   {} freeze held {}: {}",
                ns(o.planned_ms as f64 * 1e6),
                ns(o.achieved_ns as f64),
                o.outcome.map_or("not measured".to_owned(), |x| x.to_string())
            );
        }
        unmeasured = seen.iter().filter(|o| o.outcome.is_none()).map(|o| o.planned_ms * 1_000_000).collect();
        if seen.iter().all(|o| o.outcome.is_none()) {
            eprintln!("clockstorm: guest {guests} measured none of its freezes ({}); stopping", summary.status);
            observations.extend(seen);
            last_manifest = Some(manifest);
            break;
        }
        observations.extend(seen);
        last_manifest = Some(manifest);
    }
    let Some(manifest) = last_manifest else {
        return Err(Error::BadArgument { what: "characterize", message: "no guest ran".into() });
    };
    let kernel_info = manifest.kernels.first().cloned();
    let profile = ClockProfile {
        profile_version: CLOCK_PROFILE_VERSION,
        kernel: ProfiledKernel {
            name: plan.kernel.clone(),
            release: kernel_info.as_ref().map(|k| k.release.clone()).unwrap_or_default(),
            sha256: kernel_info.as_ref().map(|k| k.sha256.clone()).unwrap_or_default(),
        },
        clocksource: plan.clocksource,
        wrap_ns: plan.wrap_ns,
        searched_from_ns: settings.from_ns,
        searched_to_ns: settings.to_ns,
        resolution_ns: settings.resolution_ns,
        regimes: regimes(&observations),
        boundaries: boundaries(&settings, &points(&observations)),
        observations,
        measured_by: ProfileProvenance {
            clockstorm_version: manifest.clockstorm_version.clone(),
            backend: plan.args_backend.to_string(),
            qemu_version: manifest.qemu.version.clone(),
            accel: manifest.accel,
            host_cpu_model: manifest.host.cpu_model.clone(),
            host_kernel_release: manifest.host.kernel_release.clone(),
            started_at_unix_ms: started_unix_ms,
            wall_ms: started.elapsed().as_millis() as u64,
            guests,
            command_line: argv.to_vec(),
        },
    };
    let out_file = plan.out.join("profile.json");
    profiles::save(&out_file, &profile)?;
    if !args.no_save {
        let cache = KernelCache::default_location()?;
        let path = match plan.args_backend {
            BackendKind::Qemu => {
                let image = crate::host::kernels::resolve(&plan.kernel, None, &cache)?;
                profiles::location(&cache, &plan.kernel, &image, plan.clocksource)
            }
            // A fake kernel has no image: its profile goes under its release.
            BackendKind::Fake => cache.root().join("profiles").join(&profile.kernel.release).join(profiles::file_name(plan.clocksource)),
        };
        profiles::save(&path, &profile)?;
        eprintln!("clockstorm: profile kept at {}", path.display());
    }
    println!("{}", render(&profile));
    println!("profile: {}", out_file.display());
    let resolved = profile.boundaries.iter().all(|b| b.resolved);
    Ok(if resolved { crate::exit_code::SUCCESS } else { crate::exit_code::GATE_FAILED })
}

fn plan(args: &CharacterizeArgs) -> Result<Plan, Error> {
    let clocksource: Clocksource = args
        .clocksource
        .parse()
        .map_err(|e: clockstorm_protocol::UnknownClocksource| Error::BadFlag { flag: "clocksource", message: e.to_string() })?;
    let Some(wrap) = wrap_ns(clocksource) else {
        return Err(Error::BadFlag {
            flag: "clocksource",
            message: format!("{clocksource} does not wrap, so no freeze length changes its outcome: characterize acpi_pm or hpet"),
        });
    };
    let (from_default, to_default) = match clocksource {
        Clocksource::Hpet => ("2s", "45s"),
        _ => ("500ms", "5500ms"),
    };
    let duration = |flag: &'static str, text: &str| parse_duration(text).map_err(|message| Error::BadFlag { flag, message });
    let from = duration("from", args.from.as_deref().unwrap_or(from_default))?;
    let to = duration("to", args.to.as_deref().unwrap_or(to_default))?;
    let resolution = duration("resolution", &args.resolution)?;
    if from < Duration::from_millis(100) || to <= from {
        return Err(Error::BadFlag { flag: "to", message: format!("the range {from:?} to {to:?} is empty or starts below 100ms") });
    }
    if resolution.as_nanos() as u64 <= 2 * DEFAULT_TICK_NS {
        return Err(Error::BadFlag {
            flag: "resolution",
            message: format!(
                "{resolution:?} is finer than the kernel's tick allows: every bound includes one tick ({} ms); give at least 10ms",
                DEFAULT_TICK_NS / 1_000_000
            ),
        });
    }
    // A kernel that is not there is bad input before anything is written.
    if args.backend == BackendKind::Qemu && args.kernel != "default" && !crate::host::kernels::names_a_path(&args.kernel) {
        KernelCache::default_location()?.get(&args.kernel)?;
    }
    if args.backend == BackendKind::Fake {
        crate::backend::fake_guest::parse_model(&args.fake_model).map_err(|message| Error::BadFlag { flag: "fake-model", message })?;
    } else if !args.fake_model.is_empty() {
        return Err(Error::BadFlag { flag: "fake-model", message: "applies to --backend fake only".into() });
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("results").join(format!(
            "characterize-{}-{}-{}",
            crate::scenario::matrix::kernel_slug(&args.kernel),
            clocksource,
            utc_compact(unix_ms_now() / 1000)
        ))
    });
    Ok(Plan {
        kernel: args.kernel.clone(),
        clocksource,
        wrap_ns: wrap,
        settings: SearchSettings {
            from_ns: from.as_nanos() as u64,
            to_ns: to.as_nanos() as u64,
            resolution_ns: resolution.as_nanos() as u64,
            slack_ns: DEFAULT_TICK_NS,
            freezes_per_guest: args.freezes_per_guest as usize,
            max_guests: args.max_guests,
            wrap_ns: wrap as u64,
        },
        out,
        args_backend: args.backend,
    })
}

/// The `run` of guest `n`: a generated scenario (written beside its
/// results) with one freeze per length, spaced so that a clock waiting for
/// its next wrap has settled before the next freeze.
fn guest_run(args: &CharacterizeArgs, plan: &Plan, n: u32, lengths: &[u64]) -> Result<RunArgs, Error> {
    let settle = SETTLE + Duration::from_nanos((plan.wrap_ns / 2.0) as u64);
    let mut at = FIRST_FREEZE_AT;
    let mut faults = Vec::new();
    for &l in lengths {
        let length = Duration::from_nanos(l);
        faults.push(format!("\"freeze:{}ms+{}ms\"", at.as_millis(), length.as_millis()));
        at += length + settle;
    }
    // A clock that stops for good ends the guest after this long.
    let stop_limit = Duration::from_secs(10).max(Duration::from_nanos((plan.wrap_ns * 1.2) as u64));
    let scenario = format!(
        "# Generated by `clockstorm characterize` (guest {n}): one guest, whole-VM freezes of the lengths the search chose.\n\
         name = \"characterize\"\n\
         description = \"Guest {n} of a characterization of {cs}\"\n\
         clocksources = [\"{cs}\"]\n\
         seed = 1\n\
         faults = [{faults}]\n\n\
         [probe]\n\
         duration = \"{duration}ms\"\n\
         clock_stop_limit = \"{limit}ms\"\n",
        cs = plan.clocksource,
        faults = faults.join(", "),
        duration = at.as_millis(),
        limit = stop_limit.as_millis(),
    );
    let path = plan.out.join(format!("guest-{n}.toml"));
    std::fs::write(&path, scenario).map_err(|source| Error::OutputNotWritable { path: path.clone(), source })?;
    Ok(RunArgs {
        scenario: path.display().to_string(),
        clocksource: None,
        duration: None,
        kernel: Some(PathBuf::from(&plan.kernel)).filter(|_| plan.kernel != "default"),
        accel: args.accel,
        out: Some(plan.out.join(format!("guest-{n}"))),
        data_channel: crate::cli::args::DataChannelArg::Auto,
        qemu: args.qemu.clone(),
        probe: args.probe.clone(),
        faults: Vec::new(),
        no_faults: false,
        no_shm_reference: false,
        allow_commands: false,
        shard: None,
        resume: false,
        repetitions: None,
        jobs: 1,
        backend: args.backend,
        fake_model: args.fake_model.clone(),
    })
}

/// What each planned freeze of one guest did.
fn observe(summary: &RunSummary, guest: u32, lengths: &[u64], wrap_ns: f64) -> Vec<FreezeObservation> {
    // After a clock stopped for good nothing the guest says is about a
    // freeze any more (its exchanges answer with the stuck clock).
    let first_stop = summary.faults.iter().filter(|f| f.clock_stops.iter().any(|c| !c.stop.recovered())).map(|f| f.index).min();
    lengths
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let f = summary.faults.iter().find(|f| f.index == i).filter(|_| first_stop.is_none_or(|s| i <= s));
            let stopped_for_good = f.is_some_and(|f| f.clock_stops.iter().any(|c| !c.stop.recovered()));
            let outcome = f.and_then(|f| match (f.lost_ns, stopped_for_good) {
                (_, true) => Some(FreezeOutcome::ClockStopped),
                (Some(lost), false) => Some(classify(lost, f.lost_uncertainty_ns.unwrap_or(0), wrap_ns, false)),
                (None, false) => None,
            });
            FreezeObservation {
                guest,
                fault: i,
                planned_ms: Duration::from_nanos(l).as_millis() as u64,
                achieved_ns: f.map_or(0, |f| f.achieved_ns),
                lost_ns: f.and_then(|f| f.lost_ns),
                lost_uncertainty_ns: f.and_then(|f| f.lost_uncertainty_ns),
                outcome,
                backward_steps: f.map_or(0, |f| f.clock_backward_steps()),
                worst_backward_ns: f.map_or(0, |f| f.worst_backward_ns()),
                stood_still: f.is_some_and(|f| f.clock_stops.iter().any(|c| c.stop.recovered())),
                kernel_lines: f
                    .map(|f| {
                        f.kernel_events
                            .iter()
                            .map(|k| (k.event.kind(), k.event.summary()))
                            .map(|(kind, s)| if s.is_empty() { kind.to_owned() } else { format!("{kind}: {s}") })
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The measured points (achieved lengths) of the observations.
fn points(observations: &[FreezeObservation]) -> Vec<Point> {
    observations
        .iter()
        .filter_map(|o| Some(Point { length_ns: o.achieved_ns, outcome: o.outcome? }))
        .filter(|p| p.length_ns > 0)
        .collect()
}

/// The regimes with their step statistics.
fn regimes(observations: &[FreezeObservation]) -> Vec<clockstorm_protocol::RegimeSpan> {
    search::regimes(&points(observations))
        .into_iter()
        .map(|(outcome, shortest, longest, freezes)| {
            let mut span = search::span(outcome, shortest, longest, freezes);
            for o in observations.iter().filter(|o| o.outcome == Some(outcome) && (shortest..=longest).contains(&o.achieved_ns)) {
                span.stepped_back += u32::from(o.backward_steps > 0);
                span.worst_backward_ns = span.worst_backward_ns.max(o.worst_backward_ns);
                span.stood_still += u32::from(o.stood_still);
            }
            span
        })
        .collect()
}

/// The profile in words: regimes, boundaries, the rule, and how it was measured.
pub fn render(p: &ClockProfile) -> String {
    let mut s = format!(
        "{} on {} ({} guests, {:.0} s, {} backend, QEMU {}, accel {}):\n",
        p.kernel.release,
        p.clocksource,
        p.measured_by.guests,
        p.measured_by.wall_ms as f64 / 1e3,
        p.measured_by.backend,
        p.measured_by.qemu_version.trim_start_matches("QEMU emulator version "),
        p.measured_by.accel
    );
    for r in &p.regimes {
        let steps =
            if r.stepped_back > 0 { format!(", {} stepped back (up to {})", r.stepped_back, ns(r.worst_backward_ns as f64)) } else { String::new() };
        s.push_str(&format!("  {} to {}: {} ({} freezes{steps})\n", ns(r.shortest_ns as f64), ns(r.longest_ns as f64), r.outcome, r.freezes));
    }
    for b in &p.boundaries {
        s.push_str(&format!(
            "  {} -> {} at {} ± {} ({:.3} of a wrap){}\n",
            b.below,
            b.above,
            ns(b.at_ns as f64),
            ns(b.plus_minus_ns as f64),
            b.at_ns as f64 / p.wrap_ns,
            if b.resolved { "" } else { ": NOT resolved to the resolution asked for" }
        ));
    }
    match rule_from_profile(p, "this profile", true) {
        Some(r) => s.push_str(&format!(
            "  rule: a masked delta above {:.3} ± {:.3} of a wrap is refused; then {}\n",
            r.refuses_above,
            r.plus_minus,
            match r.after {
                clockstorm_protocol::AfterRefusal::WaitsForTheWrap => "the clock waits for the next wrap (one more wrap lost)",
                clockstorm_protocol::AfterRefusal::StopsForGood => "the clock stops for good",
            }
        )),
        None => s.push_str("  rule: none found in the range searched (no change out of \"time kept\")\n"),
    }
    s
}
