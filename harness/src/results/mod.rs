//! The results directory, the one type that knows its files:
//!
//! ```text
//! <out>/manifest.json        the runs and their outcomes (kept current)
//! <out>/summary.json         per-run summaries
//! <out>/gates.json           gate results
//! <out>/report.{json,md,html} and junit.xml
//! <out>/runs/<run-id>/records.jsonl   everything a run recorded, as it happened
//! <out>/runs/<run-id>/console.log     the guest console
//! <out>/runs/<run-id>/qemu.stderr     (fake-guest.stderr with the fake backend)
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use clockstorm_protocol::Manifest;

use crate::backend::BackendKind;

/// Subdirectory holding one directory per run.
pub const RUNS_DIR: &str = "runs";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SUMMARY_FILE: &str = "summary.json";
pub const GATES_FILE: &str = "gates.json";
pub const REPORT_JSON_FILE: &str = "report.json";
pub const REPORT_MARKDOWN_FILE: &str = "report.md";
pub const REPORT_HTML_FILE: &str = "report.html";
pub const JUNIT_FILE: &str = "junit.xml";
pub const RECORDS_FILE: &str = "records.jsonl";
pub const CONSOLE_FILE: &str = "console.log";

/// Space the run holds in the results directory (a file of zeros, removed
/// when the runs end): when the disk fills mid-run it is given back, so the
/// run's last record and the manifest that says why it ended still fit.
pub const RESERVE_FILE: &str = ".clockstorm-reserve";
pub const RESERVE_BYTES: usize = 256 << 10;

/// Writing into the results directory failed.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct WriteError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Reading a results directory's manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a clockstorm manifest: {message}")]
    Invalid { path: PathBuf, message: String },
}

pub struct ResultsDir {
    root: PathBuf,
}

impl ResultsDir {
    /// Creates the directory (and parents) and proves it is writable by
    /// writing into it, so a bad `--out` fails before any guest boots.
    pub fn create(root: &Path) -> Result<ResultsDir, std::io::Error> {
        std::fs::create_dir_all(root.join(RUNS_DIR))?;
        let probe = tempfile::NamedTempFile::new_in(root)?;
        drop(probe);
        Ok(ResultsDir { root: root.to_owned() })
    }

    /// Takes [`RESERVE_BYTES`] of the disk for the end of the run (see [`RESERVE_FILE`]).
    pub fn reserve_space(&self) -> Result<(), WriteError> {
        let path = self.root.join(RESERVE_FILE);
        std::fs::write(&path, vec![0u8; RESERVE_BYTES]).map_err(|source| WriteError { path, source })
    }

    /// Gives the reserved space back (the disk filled, or the runs are over).
    pub fn release_reserve(&self) {
        let _ = std::fs::remove_file(self.root.join(RESERVE_FILE));
    }

    /// An existing results directory, for reading.
    pub fn open(root: &Path) -> ResultsDir {
        ResultsDir { root: root.to_owned() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The manifest's path relative to nothing: `<root>/manifest.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join(MANIFEST_FILE)
    }

    /// `<root>/guardian.log`: what the guardian undid after the harness died
    /// (written only then; docs/safety.md).
    pub fn guardian_log(&self) -> PathBuf {
        self.root.join("guardian.log")
    }

    /// Reads `manifest.json`.
    pub fn read_manifest(&self) -> Result<Manifest, ManifestError> {
        let path = self.manifest_path();
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|e| ManifestError::Invalid { path, message: e.to_string() })
    }

    /// The run's directory name as the manifest records it (relative to the root).
    pub fn run_dir_name(run_id: &str) -> String {
        format!("{RUNS_DIR}/{run_id}")
    }

    /// The files of the run `run_id`.
    pub fn run(&self, run_id: &str) -> RunFiles {
        RunFiles { dir: self.root.join(RUNS_DIR).join(run_id) }
    }

    /// The files of a run by the directory the manifest names for it.
    pub fn run_at(&self, manifest_dir: &str) -> RunFiles {
        RunFiles { dir: self.root.join(manifest_dir) }
    }

    /// Writes `manifest.json` atomically.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), WriteError> {
        self.write_json(MANIFEST_FILE, manifest)
    }

    /// Writes `name` (a JSON document) atomically.
    pub fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), WriteError> {
        let mut text = serde_json::to_string_pretty(value).expect("results always serialize");
        text.push('\n');
        self.write_text(name, &text)
    }

    /// Writes `name` atomically (beside its final name, then renamed).
    pub fn write_text(&self, name: &str, text: &str) -> Result<(), WriteError> {
        let path = self.root.join(name);
        let err = |source| WriteError { path: path.clone(), source };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root).map_err(err)?;
        tmp.write_all(text.as_bytes()).map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

/// One run's directory and its files.
#[derive(Debug, Clone)]
pub struct RunFiles {
    dir: PathBuf,
}

impl RunFiles {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn create_dir(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)
    }

    /// Removes what an earlier, unfinished attempt left.
    pub fn remove(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn records(&self) -> PathBuf {
        self.dir.join(RECORDS_FILE)
    }

    pub fn console(&self) -> PathBuf {
        self.dir.join(CONSOLE_FILE)
    }

    /// What the guest process wrote to stderr.
    pub fn guest_stderr(&self, backend: BackendKind) -> PathBuf {
        self.dir.join(match backend {
            BackendKind::Qemu => "qemu.stderr",
            BackendKind::Fake => "fake-guest.stderr",
        })
    }
}
