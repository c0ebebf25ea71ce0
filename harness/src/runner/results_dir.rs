//! The results directory: `manifest.json`, `summary.json` and
//! `runs/<run-id>/{records.jsonl,console.log,qemu.stderr}`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clockstorm_protocol::Manifest;

use super::RunError;

/// Subdirectory holding one directory per run.
pub const RUNS_DIR: &str = "runs";

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

    /// An existing results directory, for reading.
    pub fn open(root: &Path) -> ResultsDir {
        ResultsDir { root: root.to_owned() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.root.join(RUNS_DIR).join(run_id)
    }

    /// Writes `manifest.json` atomically.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), RunError> {
        self.write_json("manifest.json", manifest)
    }

    /// Writes `name` (a JSON document) atomically.
    pub fn write_json<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), RunError> {
        let mut text = serde_json::to_string_pretty(value).expect("results always serialize");
        text.push('\n');
        self.write_text(name, &text)
    }

    /// Writes `name` atomically (beside its final name, then renamed).
    pub fn write_text(&self, name: &str, text: &str) -> Result<(), RunError> {
        let path = self.root.join(name);
        let err = |source| RunError::Io { what: format!("writing {}", path.display()), source };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root).map_err(err)?;
        tmp.write_all(text.as_bytes()).map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
        Ok(())
    }
}
