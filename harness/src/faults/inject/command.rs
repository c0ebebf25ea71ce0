//! `command`: a host command at a point of the timeline, for operators who
//! trigger a real VF reset or driver reload. An argument vector, never a
//! shell string; opt-in with `--allow-commands`.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clockstorm_protocol::FaultDetail;

use super::{FaultError, Injector};

/// A command still running after this is killed: a timeline must go on.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of stdout/stderr kept in the record.
const TAIL_BYTES: usize = 2048;

pub struct HostCommand {
    argv: Vec<String>,
    exit_code: Option<i32>,
    stdout_tail: String,
    stderr_tail: String,
}

impl HostCommand {
    pub fn new(argv: &[String], allowed: bool) -> Result<Self, FaultError> {
        if !allowed {
            return Err(FaultError::failed(format!("command fault {argv:?}"), "host commands run only with --allow-commands"));
        }
        Ok(HostCommand { argv: argv.to_vec(), exit_code: None, stdout_tail: String::new(), stderr_tail: String::new() })
    }
}

fn tail(mut bytes: Vec<u8>) -> String {
    if bytes.len() > TAIL_BYTES {
        bytes.drain(..bytes.len() - TAIL_BYTES);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Injector for HostCommand {
    /// Runs the command to completion (or [`COMMAND_TIMEOUT`]).
    fn apply(&mut self) -> Result<(), FaultError> {
        let what = || format!("running {:?}", self.argv);
        let mut child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so the guardian can kill it (and what it
            // started) if the harness dies while it runs.
            .process_group(0)
            .spawn()
            .map_err(|e| FaultError::failed(what(), e))?;
        let _watch = crate::guardian::proc_stat::read(std::path::Path::new("/proc"), child.id())
            .map(|s| crate::guardian::watch(crate::guardian::Item::Process { pid: child.id(), start_time: s.start_time }));
        let (mut out, mut err) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let out_reader = std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            b
        });
        let mut err_bytes = Vec::new();
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| FaultError::failed(what(), e))? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(FaultError::failed(what(), format!("still running after {COMMAND_TIMEOUT:?}: killed")));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let _ = err.read_to_end(&mut err_bytes);
        self.stdout_tail = tail(out_reader.join().unwrap_or_default());
        self.stderr_tail = tail(err_bytes);
        self.exit_code = status.code();
        Ok(())
    }

    fn lift(&mut self) -> Result<FaultDetail, FaultError> {
        Ok(FaultDetail::Command {
            argv: self.argv.clone(),
            exit_code: self.exit_code,
            stdout_tail: self.stdout_tail.clone(),
            stderr_tail: self.stderr_tail.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_need_the_opt_in_and_record_status_and_output() {
        assert!(HostCommand::new(&["true".into()], false).err().unwrap().to_string().contains("--allow-commands"));
        let mut c = HostCommand::new(&["sh".into(), "-c".into(), "echo out; echo err >&2; exit 3".into()], true).unwrap();
        c.apply().unwrap();
        match c.lift().unwrap() {
            FaultDetail::Command { exit_code, stdout_tail, stderr_tail, .. } => {
                assert_eq!((exit_code, stdout_tail.as_str(), stderr_tail.as_str()), (Some(3), "out\n", "err\n"));
            }
            other => panic!("{other:?}"),
        }
        let mut missing = HostCommand::new(&["/nonexistent/tool".into()], true).unwrap();
        assert!(missing.apply().unwrap_err().to_string().contains("/nonexistent/tool"));
    }
}
