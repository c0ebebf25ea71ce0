//! Forwards /dev/kmsg: every kernel log record with its sequence number,
//! level and timestamp (Documentation/ABI/testing/dev-kmsg).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use clockstorm_protocol::{GuestMessage, KernelLog};

use crate::outbox::{Outbox, Producer};
use crate::sampler::SamplerShared;

/// How often the reader wakes to check whether the run is over.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// One /dev/kmsg record is at most ~1 KiB (PRINTK_MESSAGE_MAX); reads of a
/// larger buffer return exactly one record.
const RECORD_BUFFER: usize = 8192;

/// Parses one record: `level,seq,ts_us,flags[,...];message` followed by
/// optional continuation lines (` KEY=VALUE`), which are dropped.
pub fn parse_record(record: &str) -> Option<KernelLog> {
    let (header, rest) = record.split_once(';')?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let ts_us = fields.next()?.parse().ok()?;
    let message = rest.lines().next().unwrap_or("").to_owned();
    Some(KernelLog { seq, ts_us, level: (prio & 7) as u8, message: unescape(&message), read_realtime_ns: None })
}

/// /dev/kmsg escapes non-printable bytes as `\xNN`.
fn unescape(s: &str) -> String {
    if !s.contains("\\x") {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
            if let Some(v) = s.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Starts the reader; it forwards from the start of the kernel's buffer
/// (boot messages included: the kernel's clocksource choices are there).
/// Starts the reader; `skip_existing`: only records printed from now on
/// (the benchmark's rounds, which must neither pay for nor resend the
/// whole boot log each time), else every record the kernel still holds.
pub fn spawn(shared: Arc<SamplerShared>, outbox: Outbox, skip_existing: bool) -> std::io::Result<JoinHandle<()>> {
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg")?;
    if skip_existing {
        // /dev/kmsg's SEEK_END: after the last record.
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
    }
    std::thread::Builder::new().name("kmsg".into()).spawn(move || {
        // Nice 0 under the channel thread's nice -20 (inherited otherwise).
        // Not SCHED_IDLE: after a freeze the kernel's own normal threads
        // kept SCHED_IDLE threads off the CPU for over a second (kernel
        // lines read, and windows sent, after the next fault).
        crate::sched::set_normal_policy();
        let mut buf = vec![0u8; RECORD_BUFFER];
        while !shared.stop.load(Ordering::Relaxed) {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(mut log) = parse_record(&String::from_utf8_lossy(&buf[..n])) {
                        // Stamped here, not when the channel sends it: a line
                        // belongs where the kernel printed it.
                        log.read_realtime_ns = Some(crate::clocks::realtime_ns());
                        outbox.send(Producer::Kernel, GuestMessage::KernelLog(log));
                    }
                }
                // EPIPE: records were overwritten before we read them; go on.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(STOP_CHECK),
                Err(_) => break,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_with_level_sequence_and_timestamp() {
        let r = parse_record("6,339,5140900,-;clocksource: Switched to clocksource hpet\n").unwrap();
        assert_eq!((r.level, r.seq, r.ts_us), (6, 339, 5_140_900));
        assert_eq!(r.message, "clocksource: Switched to clocksource hpet");
        // Facility bits are dropped from the level; continuation lines too.
        let r = parse_record("12,1,2,-,caller=T1;tsc: Marking TSC unstable\n SUBSYSTEM=cpu\n").unwrap();
        assert_eq!((r.level, r.message.as_str()), (4, "tsc: Marking TSC unstable"));
        assert_eq!(parse_record("7,x,1,-;m").map(|r| r.seq), None);
        assert_eq!(parse_record("garbage").map(|r| r.seq), None);
        assert_eq!(parse_record("6,1,1,-;tab\\x09here").unwrap().message, "tab\there");
    }
}
