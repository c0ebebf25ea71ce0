//! `clockstorm import-standalone PROBE_OUTPUT... --out DIR`: turns the
//! outputs of `guest-probe --standalone` (run on real VMs, their exchanges
//! answered by `clockstorm reference-server`) into a results directory that
//! `clockstorm report` renders like any run. One run per probe output; the
//! manifest names each machine as its probe described it, and the
//! reference host. Why not have the reference server record the run: it
//! sees only the pings, while the probe's output holds every message.

mod convert;
mod error;
mod manifest;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use convert::{convert, host_times, ImportedRun, Source};
pub use error::ImportError;
pub use manifest::{build as build_manifest, Reference, SCENARIO};

use crate::error::Error;
use crate::exit_code;
use crate::results::ResultsDir;

/// The flags of `import-standalone`.
pub struct ImportArgs<'a> {
    pub files: &'a [PathBuf],
    pub out: &'a Path,
    /// The machine's name, for a single probe output (else each file's name).
    pub machine: Option<&'a str>,
    pub reference_host: Option<&'a str>,
    /// The reference server ran on this machine: describe it as the host.
    pub reference_here: bool,
}

pub fn run(args: &ImportArgs<'_>, argv: &[String]) -> Result<u8, Error> {
    if args.machine.is_some() && args.files.len() > 1 {
        return Err(Error::BadFlag {
            flag: "machine",
            message: "names the machine of a single probe output; with several, each is named after its file".into(),
        });
    }
    let results = ResultsDir::open(args.out);
    if results.manifest_path().exists() {
        return Err(Error::BadFlag { flag: "out", message: format!("{} already holds a results directory; import into a new one", args.out.display()) });
    }
    let mut hasher = Sha256::new();
    let mut runs: Vec<ImportedRun> = Vec::new();
    let names: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    for (path, name) in args.files.iter().zip(&names) {
        let bad = |e: ImportError| Error::BadArgument { what: "PROBE_OUTPUT", message: e.to_string() };
        let bytes = std::fs::read(path).map_err(|source| bad(ImportError::Read { file: name.clone(), source }))?;
        hasher.update(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let machine = args.machine.map(str::to_owned).unwrap_or_else(|| file_stem(path));
        let run_id = unique_id(&sanitize(&machine), &runs);
        let run = convert(&Source { file: name, machine: &machine, run_id: &run_id }, &text).map_err(bad)?;
        for note in &run.notes {
            eprintln!("clockstorm: note: {note}");
        }
        runs.push(run);
    }
    let reference = Reference {
        name: args.reference_host.map(str::to_owned).or_else(|| args.reference_here.then(this_hostname)),
        here: args.reference_here.then(crate::host::host_info),
    };
    let manifest = build_manifest(&runs, &names, crate::initramfs::hex(&hasher.finalize()), argv.to_vec(), reference);
    let dir = ResultsDir::create(args.out).map_err(|source| Error::OutputNotWritable { path: args.out.to_owned(), source })?;
    for run in &runs {
        write_records(&dir, run)?;
    }
    dir.write_manifest(&manifest).map_err(crate::runner::RunError::from)?;
    let analysis = crate::analysis::analyze(&dir, &manifest);
    let report = crate::analysis::write_reports(&dir, &manifest, analysis, Vec::new())?;
    for s in &report.runs {
        println!("{}: {} samples, {} exchanges, {}", s.run_id, s.samples, s.exchanges, s.status);
    }
    println!("results in {}; render with `clockstorm report {}`", args.out.display(), args.out.display());
    Ok(exit_code::SUCCESS)
}

fn write_records(dir: &ResultsDir, run: &ImportedRun) -> Result<(), Error> {
    let files = dir.run(&run.run.id);
    let path = files.records();
    let err = |source| Error::OutputNotWritable { path: path.clone(), source };
    files.create_dir().map_err(err)?;
    let mut text = String::new();
    for record in &run.records {
        text.push_str(&serde_json::to_string(record).expect("records serialize"));
        text.push('\n');
    }
    std::fs::write(&path, text).map_err(err)
}

fn file_stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "probe".into());
    name.split('.').next().filter(|s| !s.is_empty()).unwrap_or("probe").to_owned()
}

/// A run id from a machine name: letters, digits, `-` and `_` (it names a directory).
pub fn sanitize(name: &str) -> String {
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    if id.is_empty() {
        "probe".into()
    } else {
        id
    }
}

fn unique_id(base: &str, runs: &[ImportedRun]) -> String {
    let taken = |id: &str| runs.iter().any(|r| r.run.id == id);
    (1..)
        .map(|n| if n == 1 { base.to_owned() } else { format!("{base}-{n}") })
        .find(|id| !taken(id))
        .expect("some suffix is free")
}

fn this_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

#[cfg(test)]
mod tests;
