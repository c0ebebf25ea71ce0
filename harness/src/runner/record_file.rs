//! A run's `records.jsonl`: one record per line, written and flushed as it
//! happens (one `write` per line on an unbuffered file), so a crash mid-run
//! keeps everything measured before it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use clockstorm_protocol::{HarnessEvent, RecordBody, RunRecord};

use crate::event_stream::HostStamp;

pub struct RecordFile {
    file: File,
    path: PathBuf,
}

impl RecordFile {
    pub fn create(path: &Path) -> std::io::Result<RecordFile> {
        Ok(RecordFile { file: File::create(path)?, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, stamp: HostStamp, body: RecordBody) -> std::io::Result<()> {
        let record = RunRecord { host_realtime_ns: stamp.realtime_ns, host_monotonic_ns: stamp.monotonic_ns, body };
        let mut line = serde_json::to_string(&record).expect("records always serialize");
        line.push('\n');
        self.file.write_all(line.as_bytes())
    }

    pub fn harness(&mut self, event: HarnessEvent) -> std::io::Result<()> {
        self.write(HostStamp::now(), RecordBody::Harness(event))
    }
}
