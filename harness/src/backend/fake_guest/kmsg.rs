//! The kmsg thread: forwards the fake kernel's log from its first record
//! (the boot lines name the clocksource chosen), each stamped with the
//! guest's CLOCK_REALTIME when read, as the probe forwards /dev/kmsg.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{GuestMessage, KernelLog};

use super::guest::{Guest, Phase};

/// How often the reader looks for new records (the probe's STOP_CHECK).
const POLL: Duration = Duration::from_millis(50);

/// Starts the reader; it ends when measuring does, after forwarding what is left.
pub fn spawn(guest: Arc<Guest>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("fake-kmsg".into()).spawn(move || {
        let mut cursor = 0;
        while guest.phase() == Phase::Measuring {
            if !guest.on_vcpu0() || !forward(&guest, &mut cursor) || !guest.sleep(POLL) {
                return;
            }
        }
        if guest.on_vcpu0() {
            forward(&guest, &mut cursor);
        }
    })
}

/// Sends the records from `cursor` on; false when the channel failed.
fn forward(guest: &Guest, cursor: &mut usize) -> bool {
    for r in guest.kernel.log_from(*cursor) {
        *cursor += 1;
        let log = KernelLog { seq: r.seq, ts_us: r.ts_us, level: r.level, message: r.message, read_realtime_ns: Some(guest.clock.read().realtime_ns) };
        if !guest.send(&GuestMessage::KernelLog(log)) {
            return false;
        }
    }
    true
}
