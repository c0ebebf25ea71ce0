//! The record of what a setup did, replayed backwards by `release()`.
//!
//! Each step is pushed right after (or, for freezes, right before) the action
//! it undoes, so after a partial failure exactly the completed actions are
//! reverted: a thread that was never moved is not moved back, a directory that
//! was never created is not removed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::CgroupError;
use super::fs::{self, CgroupFs};
use crate::guardian::{self, Item, Watch};

/// One undo action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Undo {
    /// rmdir a cgroup we created.
    RemoveDir(PathBuf),
    /// Write `tid` to `to` (a `tasks` or `cgroup.threads` file) to move it back.
    MoveBack { tid: u32, to: PathBuf },
    /// v1: write `THAWED` to this `freezer.state` and wait for it.
    ThawV1 { state: PathBuf },
    /// v2: write `0` to `cgroup.freeze` and wait for `frozen 0` in `cgroup.events`.
    ThawV2 { freeze: PathBuf, events: PathBuf },
    /// Write a value back (e.g. `-cpu` to a `cgroup.subtree_control`).
    Write { path: PathBuf, value: String },
}

impl Undo {
    /// The same step as the guardian does it: a plain write or rmdir (a thaw
    /// without the wait, since the guardian only needs the threads to run).
    fn guardian_item(&self) -> Item {
        match self {
            Undo::RemoveDir(path) => Item::RemoveDir { path: path.clone() },
            Undo::MoveBack { tid, to } => Item::Write { path: to.clone(), value: tid.to_string() },
            Undo::ThawV1 { state } => Item::Write { path: state.clone(), value: "THAWED".into() },
            Undo::ThawV2 { freeze, .. } => Item::Write { path: freeze.clone(), value: "0".into() },
            Undo::Write { path, value } => Item::Write { path: path.clone(), value: value.clone() },
        }
    }
}

/// The undo stack plus what it needs to replay itself.
#[derive(Debug)]
pub(crate) struct UndoLog {
    pub(crate) fs: Arc<dyn CgroupFs>,
    pub(crate) timeout: Duration,
    pub(crate) steps: Vec<Undo>,
    /// One per step: the guardian undoes the step if the harness dies first.
    watches: Vec<Watch>,
}

impl UndoLog {
    pub(crate) fn new(fs: Arc<dyn CgroupFs>, timeout: Duration) -> Self {
        UndoLog { fs, timeout, steps: Vec::new(), watches: Vec::new() }
    }

    pub(crate) fn push(&mut self, step: Undo) {
        self.watches.push(guardian::watch(step.guardian_item()));
        self.steps.push(step);
    }

    /// Undo everything, newest first, continuing past failures. Idempotent:
    /// the log is emptied, so a second call does nothing.
    pub(crate) fn release(&mut self) -> Result<(), CgroupError> {
        let mut errors = Vec::new();
        while let Some(step) = self.steps.pop() {
            if let Err(e) = self.run(&step) {
                errors.push(e);
            }
            // Undone (or tried: a failed step is not the guardian's to retry
            // while the harness lives and reports it).
            self.watches.pop();
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Cleanup(errors))
        }
    }

    fn run(&self, step: &Undo) -> Result<(), CgroupError> {
        let fs = &*self.fs;
        match step {
            Undo::RemoveDir(dir) => fs::rmdir(fs, dir),
            Undo::MoveBack { tid, to } => match fs::write(fs, to, &tid.to_string()) {
                // The thread exited: nothing left to move.
                Err(CgroupError::NoSuchThread { .. }) => Ok(()),
                other => other,
            },
            Undo::ThawV1 { state } => {
                fs::write(fs, state, "THAWED")?;
                fs::poll_until(fs, state, "THAWED", self.timeout, |s| s.trim() == "THAWED")
            }
            Undo::ThawV2 { freeze, events } => {
                fs::write(fs, freeze, "0")?;
                fs::poll_until(fs, events, "frozen 0", self.timeout, |s| s.lines().any(|l| l.trim() == "frozen 0"))
            }
            Undo::Write { path, value } => fs::write(fs, path, value),
        }
    }
}
