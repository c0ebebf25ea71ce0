//! A run's `records.jsonl`: one record per line, written and flushed as it
//! happens (one `write` per line on an unbuffered file), so a crash mid-run
//! keeps everything measured before it.
//!
//! A write that fails (a full disk: ENOSPC, EDQUOT) is remembered, not
//! retried: the run loop sees [`RecordFile::failure`] and ends the run, and
//! nothing more is written after the first failure, so the file ends in at
//! most one torn line (which the reader skips) and never has a hole.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use clockstorm_protocol::{HarnessEvent, RecordBody, RunRecord};

use crate::event_stream::HostStamp;
use crate::results::WriteError;

pub struct RecordFile {
    file: File,
    path: PathBuf,
    /// The first results write that failed in this run (this file's, or
    /// another's the run loop was told of, e.g. the console log).
    failure: Option<WriteError>,
}

impl RecordFile {
    pub fn create(path: &Path) -> std::io::Result<RecordFile> {
        Ok(RecordFile { file: File::create(path)?, path: path.to_owned(), failure: None })
    }

    /// The existing file, to append the last line of a run that ended on a
    /// write error (after space was made).
    /// A torn last line is ended first, so the new line stands on its own.
    pub fn append(path: &Path) -> std::io::Result<RecordFile> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::OpenOptions::new().read(true).append(true).open(path)?;
        let mut last = [0u8; 1];
        if file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
        Ok(RecordFile { file, path: path.to_owned(), failure: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, stamp: HostStamp, body: RecordBody) -> std::io::Result<()> {
        if let Some(f) = &self.failure {
            return Err(std::io::Error::new(f.source.kind(), format!("an earlier write failed: {f}")));
        }
        let record = RunRecord { host_realtime_ns: stamp.realtime_ns, host_monotonic_ns: stamp.monotonic_ns, body };
        let mut line = serde_json::to_string(&record).expect("records always serialize");
        line.push('\n');
        self.file.write_all(line.as_bytes()).inspect_err(|e| {
            self.failure = Some(WriteError { path: self.path.clone(), source: std::io::Error::new(e.kind(), e.to_string()) });
        })
    }

    pub fn harness(&mut self, event: HarnessEvent) -> std::io::Result<()> {
        self.write(HostStamp::now(), RecordBody::Harness(event))
    }

    /// Another results file of the run could not be written: the run ends
    /// as it would for this one (the first failure is kept).
    pub fn failed_elsewhere(&mut self, error: WriteError) {
        self.failure.get_or_insert(error);
    }

    /// The first write that failed, if one did.
    pub fn failure(&self) -> Option<&WriteError> {
        self.failure.as_ref()
    }

    pub fn take_failure(&mut self) -> Option<WriteError> {
        self.failure.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_kept_and_nothing_is_written_after_it() {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let mut r = RecordFile::create(Path::new("/dev/full")).unwrap();
        let e = r.harness(HarnessEvent::TimelineOrigin).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        let f = r.failure().expect("remembered");
        assert_eq!(f.path, Path::new("/dev/full"));
        assert!(f.to_string().contains("No space left on device"), "{f}");
        assert!(r.harness(HarnessEvent::SentinelSeen).is_err(), "no write after the first failure");
    }
}
