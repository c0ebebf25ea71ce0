//! `freeze`: SIGSTOP / SIGCONT of the whole QEMU process, the VF-reload
//! model: every QEMU thread stops, host time runs on, QEMU never knows.

use std::time::{Duration, Instant};

use clockstorm_protocol::FaultDetail;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{thread_state, FaultError, Injector};

/// How long the kernel may take to stop every QEMU thread after SIGSTOP.
/// It takes microseconds; a process not stopped after this is not stoppable.
const STOP_CONFIRM_TIMEOUT: Duration = Duration::from_secs(1);

pub struct ProcessFreeze {
    pid: u32,
    stopped: bool,
    state: Option<char>,
}

impl ProcessFreeze {
    pub fn new(pid: u32) -> Self {
        ProcessFreeze { pid, stopped: false, state: None }
    }
}

impl Injector for ProcessFreeze {
    fn apply(&mut self) -> Result<(), FaultError> {
        kill(Pid::from_raw(self.pid as i32), Signal::SIGSTOP).map_err(|e| FaultError::failed(format!("SIGSTOP to QEMU {}", self.pid), e))?;
        self.stopped = true;
        let deadline = Instant::now() + STOP_CONFIRM_TIMEOUT;
        loop {
            self.state = thread_state(self.pid, self.pid);
            if matches!(self.state, Some('T') | Some('t')) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(FaultError::failed(
                    format!("stopping QEMU {}", self.pid),
                    format!("still in state {:?} {STOP_CONFIRM_TIMEOUT:?} after SIGSTOP", self.state),
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn lift(&mut self) -> Result<FaultDetail, FaultError> {
        if self.stopped {
            kill(Pid::from_raw(self.pid as i32), Signal::SIGCONT).map_err(|e| FaultError::failed(format!("SIGCONT to QEMU {}", self.pid), e))?;
            self.stopped = false;
        }
        Ok(FaultDetail::Freeze { stopped_state: self.state })
    }
}

impl Drop for ProcessFreeze {
    fn drop(&mut self) {
        let _ = self.lift();
    }
}
