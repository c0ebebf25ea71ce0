//! What the harness tells its guardian, one JSON object per line on the
//! guardian's stdin. Plain paths, values and pids: the guardian undoes them
//! with `write(2)`, `rmdir(2)` and `kill(2)` and needs no knowledge of
//! cgroups or QEMU, so it cannot disagree with the code that set them up.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One thing that must be undone if the harness dies before undoing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// Write `value` to the control file `path` (a thaw, a lifted quota, a
    /// thread moved back to its cgroup, a controller disabled again).
    Write { path: PathBuf, value: String },
    /// rmdir a cgroup the harness created.
    RemoveDir { path: PathBuf },
    /// A guest process (QEMU or the fake guest) leading its own process
    /// group; `start_time` (field 22 of `/proc/<pid>/stat`) tells it from a
    /// later process that reused the pid.
    Process { pid: u32, start_time: u64 },
    /// A private directory of sockets the harness made; removed whole.
    TempDir { path: PathBuf },
    /// A file the harness made and removes when done (the results
    /// directory's space reserve).
    RemoveFile { path: PathBuf },
}

/// A line on the guardian's stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Undo `item` unless it is forgotten first.
    Watch { id: u64, item: Item },
    /// The harness undid it itself.
    Forget { id: u64 },
    /// The harness is exiting normally: undo whatever is still watched (it
    /// should be nothing) and exit.
    Done,
}

impl Order {
    /// The order as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("orders serialize");
        line.push('\n');
        line
    }
}
