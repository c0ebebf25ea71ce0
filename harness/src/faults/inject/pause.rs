//! `pause`: QMP `stop` / `cont`. QEMU freezes its virtual clock; under TCG the
//! guest cannot see the pause at all (it ends up behind by its length).

use std::sync::{Arc, Mutex};

use clockstorm_protocol::{FaultDetail, FaultKindName};

use super::{FaultContext, FaultError, Injector};
use crate::qemu::qmp::Qmp;

pub struct QmpPause {
    qmp: Arc<Mutex<Qmp>>,
    paused: bool,
    stop_event_us: Option<i64>,
    resume_event_us: Option<i64>,
}

impl QmpPause {
    pub fn new(ctx: &FaultContext) -> Result<Self, FaultError> {
        let qmp = ctx.qmp.clone().ok_or_else(|| FaultError::failed(FaultKindName::Pause.as_str(), "no QMP connection to QEMU"))?;
        Ok(QmpPause { qmp, paused: false, stop_event_us: None, resume_event_us: None })
    }
}

impl Injector for QmpPause {
    fn apply(&mut self) -> Result<(), FaultError> {
        let mut qmp = self.qmp.lock().unwrap_or_else(|e| e.into_inner());
        self.stop_event_us = qmp.stop()?;
        self.paused = true;
        Ok(())
    }

    fn lift(&mut self) -> Result<FaultDetail, FaultError> {
        if self.paused {
            let mut qmp = self.qmp.lock().unwrap_or_else(|e| e.into_inner());
            self.resume_event_us = qmp.cont()?;
            self.paused = false;
        }
        Ok(FaultDetail::Pause { stop_event_us: self.stop_event_us, resume_event_us: self.resume_event_us })
    }
}

impl Drop for QmpPause {
    fn drop(&mut self) {
        let _ = self.lift();
    }
}
