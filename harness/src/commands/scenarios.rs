//! `clockstorm scenario list|validate|show|import-libvirt`.

use crate::cli::args::{ListFormat, ScenarioCommand};
use crate::duration::format_duration;
use crate::error::Error;
use crate::exit_code;
use crate::faults;
use crate::scenario::libvirt::{self, HostLimits, LibvirtError};
use crate::scenario::{self, matrix, parse, SHIPPED};
use std::path::Path;

pub fn run(cmd: &ScenarioCommand) -> Result<u8, Error> {
    match cmd {
        ScenarioCommand::List { format } => {
            let mut listed = Vec::new();
            for (name, text) in SHIPPED {
                let loaded = parse(text, &format!("shipped scenario {name}"))?;
                match format {
                    ListFormat::Text => println!("{name:<14} {}", loaded.scenario.description),
                    ListFormat::Json => listed.push(serde_json::json!({ "name": name, "description": loaded.scenario.description })),
                }
            }
            if *format == ListFormat::Json {
                println!("{}", pretty(&serde_json::Value::Array(listed)));
            }
        }
        ScenarioCommand::Validate { files, format } => {
            // Every file is checked; the first error is the exit code.
            let mut first_error = None;
            let mut checked = Vec::new();
            for f in files {
                match (scenario::load(f), format) {
                    (Ok(l), ListFormat::Text) => println!("ok      {f} ({} runs)", matrix::expand(&l.scenario).len()),
                    (Ok(l), ListFormat::Json) => checked.push(serde_json::json!({ "file": f, "valid": true, "runs": matrix::expand(&l.scenario).len() })),
                    (Err(e), format) => {
                        match format {
                            ListFormat::Text => println!("invalid {e}"),
                            ListFormat::Json => checked.push(serde_json::json!({ "file": f, "valid": false, "error": e.to_string() })),
                        }
                        first_error.get_or_insert(e);
                    }
                }
            }
            if *format == ListFormat::Json {
                println!("{}", pretty(&serde_json::Value::Array(checked)));
            }
            if let Some(e) = first_error {
                return Ok(Error::from(e).exit_code());
            }
        }
        ScenarioCommand::Show { scenario, format: ListFormat::Text } => print!("{}", show(scenario)?),
        ScenarioCommand::Show { scenario, format: ListFormat::Json } => println!("{}", pretty(&show_json(scenario)?)),
        ScenarioCommand::ImportLibvirt { domain, output, name } => import_libvirt(domain, output.as_deref(), name.as_deref())?,
    }
    Ok(exit_code::SUCCESS)
}

/// Reads the domain, maps it (scenario::libvirt), writes the scenario to
/// `output` or stdout, and lists on stderr what could not be mapped.
fn import_libvirt(domain: &Path, output: Option<&Path>, name: Option<&str>) -> Result<(), Error> {
    let text = std::fs::read_to_string(domain)
        .map_err(|source| LibvirtError::Read { path: domain.to_owned(), source })
        .map_err(scenario::ScenarioError::from)?;
    let origin = domain.display().to_string();
    let import = libvirt::import(&text, &origin, name, &HostLimits::of_this_host()).map_err(scenario::ScenarioError::from)?;
    let written = libvirt::render(&import);
    match output {
        Some(path) => {
            std::fs::write(path, &written).map_err(|source| Error::OutputNotWritable { path: path.to_owned(), source })?;
            eprintln!("clockstorm: wrote scenario {} ({}) from {origin}", path.display(), import.scenario.name);
        }
        None => print!("{written}"),
    }
    let not_mapped: Vec<_> = import.not_mapped().collect();
    eprintln!("clockstorm: not mapped ({}):", not_mapped.len());
    for n in not_mapped {
        if let libvirt::NoteKind::NotMapped { why } = &n.kind {
            eprintln!("  {}: {why}", libvirt::head(n));
        }
    }
    for w in &import.warnings {
        eprintln!("clockstorm: warning: {w}");
    }
    Ok(())
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON values serialize")
}

/// `scenario show --format json`: what `show` says, as data: the scenario
/// as loaded (every key, defaults filled in), its runs in run order and its
/// fault timeline. Pure apart from loading the file.
pub fn show_json(arg: &str) -> Result<serde_json::Value, Error> {
    let l = scenario::load(arg)?;
    let s = &l.scenario;
    let runs: Vec<serde_json::Value> = matrix::shuffled(matrix::expand(s), s.seed)
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id, "kernel": r.kernel, "variant": r.variant.name,
                "clocksource": r.clocksource.kernel_name(), "repetition": r.repetition,
            })
        })
        .collect();
    let faults: Vec<serde_json::Value> = faults::expand(&s.faults, s.seed, s.probe.duration)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            serde_json::json!({
                "index": e.index, "kind": e.kind.name(),
                "start_ms": e.start.as_millis() as u64, "duration_ms": e.duration.as_millis() as u64,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "origin": l.origin,
        "scenario": serde_json::to_value(s).unwrap_or_default(),
        "runs": runs,
        "faults": faults,
    }))
}

/// Every run the scenario would make, in the order it would make them, and
/// its timeline. Pure apart from loading the file.
pub fn show(arg: &str) -> Result<String, Error> {
    let l = scenario::load(arg)?;
    let s = &l.scenario;
    let mut out = format!("{} — {}\n", s.name, s.description);
    out.push_str(&format!("seed {}, {} repetition(s), {} per run\n", s.seed, s.repetitions, format_duration(s.probe.duration)));
    let runs = matrix::shuffled(matrix::expand(s), s.seed);
    out.push_str(&format!("\nruns ({}), in run order:\n", runs.len()));
    for (i, r) in runs.iter().enumerate() {
        out.push_str(&format!("  {i:>3}  {:<48} kernel {:<30} variant {:<14} {}\n", r.id, r.kernel, r.variant.name, r.clocksource));
    }
    let events = faults::expand(&s.faults, s.seed, s.probe.duration).unwrap_or_default();
    if !events.is_empty() {
        out.push_str("\nfaults (from the start of measurement):\n");
        for e in &events {
            out.push_str(&format!("  {:>3}  {:<12} at {:>8} for {:>8}\n", e.index, e.kind.name(), format_duration(e.start), format_duration(e.duration)));
        }
    }
    if !s.actions.is_empty() {
        out.push_str("\nactions:\n");
        for a in &s.actions {
            out.push_str(&format!("  at {:>8}  {:?}\n", format_duration(a.at), a.action()));
        }
    }
    let gates = toml::to_string(&s.gates).unwrap_or_default();
    if !gates.trim().is_empty() {
        out.push_str("\ngates:\n");
        for line in gates.lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    Ok(out)
}
