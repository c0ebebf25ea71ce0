//! `clockstorm soak RUNS`: many short runs with random faults and random
//! interruptions, counting what each left behind. A testing aid for the
//! tool's own safety (docs/safety.md): every run is a real `clockstorm run`
//! child process, interrupted from outside as a user or the OOM killer would.

mod check;
mod plan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::args::SoakArgs;
use crate::error::Error;
use crate::exit_code;
use crate::plan::BackendKind;
use plan::{Interruption, SoakRun};

/// Each run measures this long (its fault: 1 s to 4 s).
const RUN_DURATION: &str = "6s";
/// A run that has not ended this long after its start is a hung harness.
const HANG_LIMIT: Duration = Duration::from_secs(120);
/// The guardian's bound plus scheduling slack on a loaded host.
const CLEANUP_WAIT: Duration = Duration::from_secs(4);

/// The tally the soak prints.
#[derive(Debug, Default)]
struct Tally {
    interruptions: BTreeMap<Interruption, usize>,
    /// Signals planned but the run had ended (or had no guest yet) by then.
    missed: usize,
    exit_codes: BTreeMap<String, usize>,
    guests_left: Vec<String>,
    cgroups_left: Vec<String>,
    frozen_threads_left: usize,
    bad_records: Vec<String>,
    torn_last_lines: usize,
    completed_lost: Vec<String>,
    unreadable: Vec<String>,
    hung: Vec<String>,
}

pub fn run(args: &SoakArgs) -> Result<u8, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::BadArgument { what: "soak", message: format!("cannot find this binary: {e}") })?;
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("clockstorm-soak-{}", std::process::id())),
    };
    std::fs::create_dir_all(&out).map_err(|source| Error::OutputNotWritable { path: out.clone(), source })?;
    let real = args.backend == BackendKind::Qemu;
    // Boot plus measuring: the interruptions land anywhere in it.
    let window = if real { Duration::from_secs(12) } else { Duration::from_secs(7) };
    let runs = plan::plan(args.runs, args.seed, window, real);
    let panic_scenario = out.join("panic.toml");
    std::fs::write(&panic_scenario, PANIC_SCENARIO).map_err(|source| Error::OutputNotWritable { path: panic_scenario.clone(), source })?;
    let started = Instant::now();
    let mut tally = Tally::default();
    for (i, r) in runs.iter().enumerate() {
        let dir = out.join(format!("run-{i:03}"));
        let mut cmd = Command::new(&exe);
        let scenario: &Path = if r.interruption == Interruption::GuestPanic { &panic_scenario } else { Path::new("idle") };
        cmd.arg("run")
            .arg(scenario)
            .args(["--clocksource", "tsc", "--duration", RUN_DURATION, "--fault", r.fault])
            .arg("--out")
            .arg(&dir);
        cmd.arg("--backend").arg(args.backend.to_string());
        if let Some(k) = &args.kernel {
            cmd.arg("--kernel").arg(k);
        }
        let log = std::fs::File::create(out.join(format!("run-{i:03}.log"))).map_err(|source| Error::OutputNotWritable { path: out.clone(), source })?;
        let err = log.try_clone().map_err(|source| Error::OutputNotWritable { path: out.clone(), source })?;
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        let child = cmd.spawn().map_err(|e| Error::BadArgument { what: "soak", message: format!("starting {}: {e}", exe.display()) })?;
        let line = one_run(child, r, &dir, &mut tally);
        eprintln!("soak: [{}/{}] {} with {} at {:.1} s: {line}", i + 1, runs.len(), r.fault, r.interruption.name(), r.at.as_secs_f64());
    }
    print!("{}", render(&tally, runs.len(), args, started.elapsed(), &out));
    let clean = tally.guests_left.is_empty()
        && tally.cgroups_left.is_empty()
        && tally.frozen_threads_left == 0
        && tally.bad_records.is_empty()
        && tally.completed_lost.is_empty()
        && tally.unreadable.is_empty()
        && tally.hung.is_empty();
    Ok(if clean { exit_code::SUCCESS } else { exit_code::RUN_FAILED })
}

/// A kernel that panics at boot: `rdinit=` names no file, so the kernel
/// falls back to mounting a root filesystem there is none of.
const PANIC_SCENARIO: &str = "name = \"soak-panic\"\ndescription = \"idle, with a kernel that panics at boot\"\nclocksources = [\"tsc\"]\n\n[guest]\nkernel_params = [\"rdinit=/clockstorm-soak-no-such-init\"]\n\n[probe]\nduration = \"6s\"\n";

/// Runs one planned run to its end; returns its line for the progress log.
fn one_run(mut child: Child, r: &SoakRun, dir: &Path, tally: &mut Tally) -> String {
    let start = Instant::now();
    let harness = Pid::from_raw(child.id() as i32);
    *tally.interruptions.entry(r.interruption).or_default() += 1;
    let signal = match r.interruption {
        Interruption::Sigint => Some(Signal::SIGINT),
        Interruption::Sigterm => Some(Signal::SIGTERM),
        Interruption::SigkillHarness | Interruption::SigkillGuest => Some(Signal::SIGKILL),
        Interruption::None | Interruption::GuestPanic => None,
    };
    if let Some(sig) = signal {
        let ended = wait_until(&mut child, start + r.at);
        let target = if r.interruption == Interruption::SigkillGuest { current_guest(dir) } else { Some(harness) };
        match target {
            Some(pid) if !ended => {
                let _ = kill(pid, sig);
            }
            _ => tally.missed += 1,
        }
    }
    let hung = !wait_until(&mut child, start + HANG_LIMIT);
    if hung {
        let _ = kill(harness, Signal::SIGKILL);
        tally.hung.push(dir.display().to_string());
    }
    let status = child.wait().ok();
    let code = match status.and_then(|s| s.code()) {
        Some(c) => c.to_string(),
        None => "killed by a signal".to_string(),
    };
    *tally.exit_codes.entry(code.clone()).or_default() += 1;
    check_run(dir, r, tally);
    format!("exit {code} after {:.1} s", start.elapsed().as_secs_f64())
}

/// Waits for the child to exit or the deadline to pass; true if it exited.
fn wait_until(child: &mut Child, deadline: Instant) -> bool {
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The running guest process of the run in `dir`, from its records.
fn current_guest(dir: &Path) -> Option<Pid> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        for records in records_files(dir) {
            if let Some(pid) = check::guest_pid(&check::read_records(&records).records).filter(|&p| check::holds_threads(p)) {
                return Some(Pid::from_raw(pid as i32));
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn records_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("records.jsonl"))
        .filter(|p| p.is_file())
        .collect()
}

/// What the run in `dir` left, into the tally.
fn check_run(dir: &Path, r: &SoakRun, tally: &mut Tally) {
    let name = dir.display().to_string();
    let mut completed = Vec::new();
    for path in records_files(dir) {
        let records = check::read_records(&path);
        if records.bad_lines > 0 || (records.torn_last_line && r.interruption != Interruption::SigkillHarness) {
            tally.bad_records.push(path.display().to_string());
        }
        tally.torn_last_lines += usize::from(records.torn_last_line);
        if check::completed(&records.records) {
            completed.push(path.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        }
        if let Some(guest) = check::guest_pid(&records.records) {
            let deadline = Instant::now() + CLEANUP_WAIT;
            let mut left = check::left_by(guest, Path::new(crate::faults::cgroup::DEFAULT_ROOT));
            while (left.guest || !left.cgroups.is_empty()) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                left = check::left_by(guest, Path::new(crate::faults::cgroup::DEFAULT_ROOT));
            }
            if left.guest {
                tally.guests_left.push(format!("{guest} ({name})"));
            }
            tally.cgroups_left.extend(left.cgroups.iter().map(|c| c.display().to_string()));
            tally.frozen_threads_left += left.frozen_threads;
        }
    }
    if !dir.join("manifest.json").is_file() {
        // Killed before the results directory was written: nothing to read.
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| "clockstorm".into());
    match Command::new(exe).arg("report").arg(dir).args(["--format", "json"]).stderr(Stdio::null()).output() {
        Ok(o) if !o.stdout.is_empty() => {
            let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
            let runs = report.get("runs").and_then(|r| r.as_array()).cloned().unwrap_or_default();
            for id in completed {
                let kept = runs
                    .iter()
                    .any(|run| run.get("run_id").and_then(|v| v.as_str()) == Some(&id) && run.get("status").and_then(|v| v.as_str()) == Some("completed"));
                if !kept {
                    tally.completed_lost.push(format!("{id} ({name})"));
                }
            }
        }
        _ => tally.unreadable.push(name),
    }
}

fn render(t: &Tally, runs: usize, args: &SoakArgs, took: Duration, out: &Path) -> String {
    let list = |v: &[String]| if v.is_empty() { String::new() } else { format!(": {}", v.join(", ")) };
    let interruptions = t.interruptions.iter().map(|(k, n)| format!("{} {n}", k.name())).collect::<Vec<_>>().join(", ");
    let codes = t.exit_codes.iter().map(|(c, n)| format!("{c}: {n}")).collect::<Vec<_>>().join(", ");
    format!(
        "soak: {runs} runs ({} backend, seed {}) in {:.1} min, results in {}\n\
         interruptions: {interruptions} ({} came after the run had ended or before its guest)\n\
         exit codes: {codes}\n\
         guest processes left: {}{}\n\
         cgroups left: {}{}\n\
         frozen threads left: {}\n\
         records files that do not parse: {}{} (torn last lines after SIGKILL of the harness: {})\n\
         completed runs lost from the report: {}{}\n\
         results dirs `clockstorm report` cannot read: {}{}\n\
         harnesses that hung: {}{}\n",
        args.backend,
        args.seed,
        took.as_secs_f64() / 60.0,
        out.display(),
        t.missed,
        t.guests_left.len(),
        list(&t.guests_left),
        t.cgroups_left.len(),
        list(&t.cgroups_left),
        t.frozen_threads_left,
        t.bad_records.len(),
        list(&t.bad_records),
        t.torn_last_lines,
        t.completed_lost.len(),
        list(&t.completed_lost),
        t.unreadable.len(),
        list(&t.unreadable),
        t.hung.len(),
        list(&t.hung),
    )
}
