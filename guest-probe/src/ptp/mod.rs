//! The KVM PTP clock: a direct reading of the host's `CLOCK_REALTIME`.
//!
//! With `CONFIG_PTP_1588_CLOCK_KVM` (module `ptp_kvm`) a KVM guest gets a PTP
//! hardware clock, `/dev/ptpN`, whose `clock_name` in sysfs is
//! `KVM virtual PTP`. Reading it asks the host (hypercall
//! `KVM_HC_CLOCK_PAIRING`) for its wall clock, so comparing it with the
//! guest's own `CLOCK_REALTIME` gives the guest-host offset without any
//! data channel round trip.
//!
//! Two ioctls from `<linux/ptp_clock.h>` are used:
//!
//! * `PTP_SYS_OFFSET_PRECISE`: a hardware cross-timestamp, device time and
//!   system time for the same instant. ptp_kvm supports it only while the
//!   *guest's* clocksource is `kvm-clock` (on x86) and the host's is the TSC;
//!   otherwise it fails with `ENODEV` / `EOPNOTSUPP`.
//! * `PTP_SYS_OFFSET`: `n` device readings, each bracketed by system
//!   `CLOCK_REALTIME` readings; works with any guest clocksource.
//!
//! [`read_offset`] tries the first and falls back to the second. The
//! conversions from ioctl results to a [`PtpOffset`] are pure functions,
//! unit-tested with hand-computed numbers.
//!
//! The ioctl numbers use the generic `_IOC` layout (x86, arm, arm64,
//! riscv, loongarch, s390); powerpc, mips and sparc encode directions
//! differently and are not supported.

// A small library API inside a binary crate: the probe uses only part of it
// so far, and unused `pub` items would otherwise warn.
#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// `clock_name` of the clock registered by the `ptp_kvm` driver.
pub const KVM_PTP_CLOCK_NAME: &str = "KVM virtual PTP";

/// `PTP_MAX_SAMPLES`: the most samples one `PTP_SYS_OFFSET` may ask for.
pub const PTP_MAX_SAMPLES: usize = 25;

/// Samples [`read_offset`] asks for when it falls back to `PTP_SYS_OFFSET`.
pub const FALLBACK_SAMPLES: u32 = 10;

/// Finds the KVM PTP clock: looks through `<sys_class_ptp>/ptpN/clock_name`
/// (normally `/sys/class/ptp`) for [`KVM_PTP_CLOCK_NAME`] and returns the
/// matching character device `/dev/ptpN` (lowest `N` if several match).
///
/// Returns `None` if the directory is missing or unreadable or no clock
/// matches. Entries that are not `ptp<number>` or lack a readable
/// `clock_name` are skipped.
pub fn find_kvm_ptp(sys_class_ptp: &Path) -> Option<PathBuf> {
    let mut best: Option<u32> = None;
    for entry in std::fs::read_dir(sys_class_ptp).ok()?.flatten() {
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|s| s.strip_prefix("ptp")).and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if best.is_some_and(|b| b <= n) {
            continue;
        }
        let Ok(clock_name) = std::fs::read_to_string(entry.path().join("clock_name")) else {
            continue;
        };
        if clock_name.trim() == KVM_PTP_CLOCK_NAME {
            best = Some(n);
        }
    }
    best.map(|n| PathBuf::from(format!("/dev/ptp{n}")))
}

/// `struct ptp_clock_time`: a timestamp as seconds and nanoseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtpClockTime {
    /// Seconds.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000` when valid.
    pub nsec: u32,
    /// Reserved; 0.
    pub reserved: u32,
}

impl PtpClockTime {
    /// The time in nanoseconds, or `None` if `nsec` is out of range.
    /// (`i128`, so no second count can overflow.)
    pub fn as_ns(&self) -> Option<i128> {
        (self.nsec < 1_000_000_000).then(|| i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec))
    }
}

/// `struct ptp_sys_offset_precise`: result of `PTP_SYS_OFFSET_PRECISE`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PtpSysOffsetPrecise {
    /// The PTP clock's time (for ptp_kvm: the host's `CLOCK_REALTIME`).
    pub device: PtpClockTime,
    /// The system's `CLOCK_REALTIME` at the same instant.
    pub sys_realtime: PtpClockTime,
    /// The system's `CLOCK_MONOTONIC_RAW` at the same instant.
    pub sys_monoraw: PtpClockTime,
    /// Reserved; 0.
    pub rsv: [u32; 4],
}

/// `struct ptp_sys_offset`: argument and result of `PTP_SYS_OFFSET`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtpSysOffset {
    /// Number of device readings wanted (1..=[`PTP_MAX_SAMPLES`]).
    pub n_samples: u32,
    /// Reserved; 0.
    pub rsv: [u32; 3],
    /// `2 * n_samples + 1` interleaved timestamps: system `CLOCK_REALTIME`,
    /// device, system, device, ..., system.
    pub ts: [PtpClockTime; 2 * PTP_MAX_SAMPLES + 1],
}

impl Default for PtpSysOffset {
    fn default() -> Self {
        PtpSysOffset { n_samples: 0, rsv: [0; 3], ts: [PtpClockTime::default(); 2 * PTP_MAX_SAMPLES + 1] }
    }
}

// The layouts must match the kernel's (sizes from gcc + <linux/ptp_clock.h>:
// 16, 64 and 832 bytes).
const _: () = assert!(std::mem::size_of::<PtpClockTime>() == 16);
const _: () = assert!(std::mem::size_of::<PtpSysOffsetPrecise>() == 64);
const _: () = assert!(std::mem::size_of::<PtpSysOffset>() == 832);

/// `_IOC_WRITE`: userspace writes the argument (generic layout).
pub const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: userspace reads the argument back (generic layout).
pub const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)` in the generic layout: `dir` in bits 30-31,
/// `size` in bits 16-29, `type` in bits 8-15, `nr` in bits 0-7.
///
/// # Panics
///
/// If `size` does not fit in 14 bits (16 KiB or more). Used in a `const`
/// item, as here, that is a compile error rather than a runtime panic.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1 << 14), "ioctl argument too large for _IOC");
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | nr as u32
}

/// `PTP_CLK_MAGIC`, the ioctl type of all PTP ioctls.
pub const PTP_CLK_MAGIC: u8 = b'=';

/// `PTP_SYS_OFFSET = _IOW('=', 5, struct ptp_sys_offset)` = `0x43403d05`.
pub const PTP_SYS_OFFSET: u32 = ioc(IOC_WRITE, PTP_CLK_MAGIC, 5, std::mem::size_of::<PtpSysOffset>());

/// `PTP_SYS_OFFSET_PRECISE = _IOWR('=', 8, struct ptp_sys_offset_precise)` = `0xc0403d08`.
pub const PTP_SYS_OFFSET_PRECISE: u32 = ioc(IOC_READ | IOC_WRITE, PTP_CLK_MAGIC, 8, std::mem::size_of::<PtpSysOffsetPrecise>());

/// The PTP clock's offset from the system's `CLOCK_REALTIME`:
/// `offset_ns = device - system`, so for ptp_kvm a positive offset means the
/// host's wall clock is ahead of the guest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PtpOffset {
    /// Device time minus system time, in ns.
    pub offset_ns: i64,
    /// Half-width of the interval that certainly contains the true offset
    /// (0 for a hardware cross-timestamp), in ns.
    pub uncertainty_ns: i64,
}

/// Best offset from interleaved `PTP_SYS_OFFSET` timestamps
/// `sys, dev, sys, dev, ..., sys` (`2n + 1` of them; an extra trailing
/// element is ignored).
///
/// For each device reading, the offset is `dev - midpoint(sys before, sys
/// after)` and the uncertainty half the bracket's width (rounded up, so the
/// interval covers the whole bracket). The narrowest bracket wins (the
/// earliest on ties). Brackets with an invalid timestamp, a negative width
/// (system clock stepped back) or values out of `i64` range are skipped;
/// `None` if none is left.
pub fn offset_from_samples(ts: &[PtpClockTime]) -> Option<PtpOffset> {
    let mut best: Option<(i128, PtpOffset)> = None;
    let mut i = 0;
    while i + 2 < ts.len() {
        let (before, dev, after) = (ts[i].as_ns(), ts[i + 1].as_ns(), ts[i + 2].as_ns());
        i += 2;
        let (Some(before), Some(dev), Some(after)) = (before, dev, after) else {
            continue;
        };
        let width = after - before;
        if width < 0 || best.is_some_and(|(w, _)| w <= width) {
            continue;
        }
        let half_down = width / 2; // width >= 0, so this is floor
        let (Ok(offset_ns), Ok(uncertainty_ns)) = (i64::try_from(dev - (before + half_down)), i64::try_from(width - half_down)) else {
            continue;
        };
        best = Some((width, PtpOffset { offset_ns, uncertainty_ns }));
    }
    best.map(|(_, o)| o)
}

/// Best offset from a filled-in `PTP_SYS_OFFSET` result: uses the first
/// `2 * n_samples + 1` timestamps (`n_samples` capped at
/// [`PTP_MAX_SAMPLES`]); see [`offset_from_samples`].
pub fn offset_from_sys_offset(s: &PtpSysOffset) -> Option<PtpOffset> {
    let n = (s.n_samples as usize).min(PTP_MAX_SAMPLES);
    offset_from_samples(s.ts.get(..2 * n + 1)?)
}

/// Offset from a `PTP_SYS_OFFSET_PRECISE` result: `device - sys_realtime`,
/// uncertainty 0 (both are taken at the same instant). `None` on an
/// invalid timestamp or an offset outside `i64`.
pub fn offset_from_precise(p: &PtpSysOffsetPrecise) -> Option<PtpOffset> {
    let offset = p.device.as_ns()? - p.sys_realtime.as_ns()?;
    Some(PtpOffset { offset_ns: i64::try_from(offset).ok()?, uncertainty_ns: 0 })
}

/// Whether a failed `PTP_SYS_OFFSET_PRECISE` should fall back to
/// `PTP_SYS_OFFSET`: the ioctl is unknown (`ENOTTY`, `EINVAL`), the driver
/// has no cross-timestamp (`EOPNOTSUPP`), or the cross-timestamp's counter
/// is not the current clocksource (`ENODEV`, e.g. ptp_kvm while the guest
/// runs on `tsc` or `hpet` rather than `kvm-clock`).
fn precise_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::ENODEV))
}

/// Issues `ioctl(fd, req, arg)`, retrying on `EINTR`.
///
/// # Safety
///
/// `req` must be an ioctl whose argument is a `T` (its encoded size equal to
/// `size_of::<T>()`), so the kernel reads and writes only within `*arg`.
unsafe fn ioctl_with<T>(file: &File, req: u32, arg: &mut T) -> io::Result<()> {
    loop {
        // SAFETY: `file` keeps the descriptor open for the call; `arg` is a
        // valid, exclusive pointer to a `T` for its duration, and the caller
        // guarantees `req` takes exactly a `T`. The `as _` converts the
        // request to the libc's type (c_ulong on glibc, c_int on musl),
        // keeping its bits.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), req as _, arg as *mut T) };
        if r != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Measures the offset of the PTP clock `dev` (e.g. from [`find_kvm_ptp`])
/// from the system's `CLOCK_REALTIME`.
///
/// Tries `PTP_SYS_OFFSET_PRECISE`; if the device does not support it (see
/// the module docs) falls back to `PTP_SYS_OFFSET` with
/// [`FALLBACK_SAMPLES`] samples and keeps the narrowest bracket. Other
/// errors, and errors of the fallback, are returned as is; a result that
/// cannot be converted gives `InvalidData`. Opens the device read-only for
/// each call.
pub fn read_offset(dev: &Path) -> io::Result<PtpOffset> {
    let file = File::open(dev)?;

    let mut precise = PtpSysOffsetPrecise::default();
    // SAFETY: PTP_SYS_OFFSET_PRECISE's argument is a struct ptp_sys_offset_precise,
    // which PtpSysOffsetPrecise mirrors (#[repr(C)], size checked above and
    // encoded in the request number).
    match unsafe { ioctl_with(&file, PTP_SYS_OFFSET_PRECISE, &mut precise) } {
        Ok(()) => return offset_from_precise(&precise).ok_or_else(|| invalid_data("PTP_SYS_OFFSET_PRECISE returned an invalid timestamp")),
        Err(e) if precise_unsupported(&e) => {}
        Err(e) => return Err(e),
    }

    let mut sys = PtpSysOffset { n_samples: FALLBACK_SAMPLES, ..PtpSysOffset::default() };
    // SAFETY: PTP_SYS_OFFSET's argument is a struct ptp_sys_offset, which
    // PtpSysOffset mirrors (#[repr(C)], size checked above and encoded in the
    // request number); n_samples <= PTP_MAX_SAMPLES so the kernel fills
    // 2n+1 <= ts.len() entries.
    unsafe { ioctl_with(&file, PTP_SYS_OFFSET, &mut sys)? };
    offset_from_sys_offset(&sys).ok_or_else(|| invalid_data("PTP_SYS_OFFSET returned no usable sample"))
}

fn invalid_data(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(sec: i64, nsec: u32) -> PtpClockTime {
        PtpClockTime { sec, nsec, reserved: 0 }
    }

    #[test]
    fn ioctl_numbers_match_the_kernel_header() {
        // Printed by gcc with <linux/ptp_clock.h> on the dev machine:
        //   PTP_SYS_OFFSET=0x43403d05 PTP_SYS_OFFSET_PRECISE=0xc0403d08
        //   PTP_CLOCK_GETCAPS=0x80503d01 (_IOR('=', 1, 80-byte struct ptp_clock_caps))
        // By hand: _IOW = 1<<30 | 832<<16 | '='(0x3d)<<8 | 5 = 0x40000000 | 0x03400000 | 0x3d00 | 5.
        assert_eq!(PTP_SYS_OFFSET, 0x4340_3d05);
        assert_eq!(PTP_SYS_OFFSET_PRECISE, 0xc040_3d08);
        assert_eq!(ioc(IOC_READ, PTP_CLK_MAGIC, 1, 80), 0x8050_3d01);
        // A familiar one from elsewhere: TCGETS2 = _IOR('T', 0x2A, struct termios2 (44 bytes)).
        assert_eq!(ioc(IOC_READ, b'T', 0x2a, 44), 0x802c_542a);
        assert_eq!(std::mem::align_of::<PtpSysOffset>(), 8);
    }

    #[test]
    fn precise() {
        // device 150.000000250, realtime 100.000000000 -> +50_000_000_250 ns
        let p = PtpSysOffsetPrecise { device: t(150, 250), sys_realtime: t(100, 0), ..Default::default() };
        assert_eq!(offset_from_precise(&p), Some(PtpOffset { offset_ns: 50_000_000_250, uncertainty_ns: 0 }));
        // device 9.999999000, realtime 11.000000100 -> -1_000_001_100 ns (borrow across the second)
        let p = PtpSysOffsetPrecise { device: t(9, 999_999_000), sys_realtime: t(11, 100), ..Default::default() };
        assert_eq!(offset_from_precise(&p).unwrap().offset_ns, -1_000_001_100);
        let bad = PtpSysOffsetPrecise { device: t(1, 1_000_000_000), ..Default::default() };
        assert_eq!(offset_from_precise(&bad), None);
        let huge = PtpSysOffsetPrecise { device: t(i64::MAX, 0), sys_realtime: t(i64::MIN, 0), ..Default::default() };
        assert_eq!(offset_from_precise(&huge), None);
    }

    #[test]
    fn narrowest_bracket_wins() {
        let ts = [
            t(100, 0),    // sys
            t(150, 500),  // dev: bracket [0, 1000], width 1000 -> mid 500, offset 50 s + 0, unc 500
            t(100, 1000), // sys
            t(150, 1300), // dev: bracket [1000, 1400], width 400 -> mid 1200, offset 50 s + 100, unc 200
            t(100, 1400), // sys
            t(150, 1900), // dev: bracket [1400, 2401], width 1001 -> mid 1900, offset 50 s + 0, unc 501
            t(100, 2401), // sys
        ];
        assert_eq!(offset_from_samples(&ts), Some(PtpOffset { offset_ns: 50_000_000_100, uncertainty_ns: 200 }));
        // Only the first bracket: width 1000.
        assert_eq!(offset_from_samples(&ts[..3]), Some(PtpOffset { offset_ns: 50_000_000_000, uncertainty_ns: 500 }));
        // Only the last bracket: odd width 1001 -> mid rounds down (1400 + 500), unc rounds up (501).
        assert_eq!(offset_from_samples(&ts[4..]), Some(PtpOffset { offset_ns: 50_000_000_000, uncertainty_ns: 501 }));
        // A trailing unpaired element is ignored.
        assert_eq!(offset_from_samples(&ts[..4]), offset_from_samples(&ts[..3]));
    }

    #[test]
    fn negative_offset_across_second_boundary() {
        // sys 10.999999900, dev 9.999999000, sys 11.000000100: width 200, mid 11.000000000,
        // offset 9.999999000 - 11.000000000 = -1.000001000 s, unc 100.
        let ts = [t(10, 999_999_900), t(9, 999_999_000), t(11, 100)];
        assert_eq!(offset_from_samples(&ts), Some(PtpOffset { offset_ns: -1_000_001_000, uncertainty_ns: 100 }));
        // before the epoch: sys -1.5 s (sec -2, nsec 500_000_000), dev 0, sys -1.5 s + 10 ns
        let ts = [t(-2, 500_000_000), t(0, 0), t(-2, 500_000_010)];
        assert_eq!(offset_from_samples(&ts), Some(PtpOffset { offset_ns: 1_499_999_995, uncertainty_ns: 5 }));
    }

    #[test]
    fn bad_brackets_are_skipped() {
        let ts = [
            t(100, 1000),
            t(150, 0),
            t(100, 0), // backwards: skipped
            t(150, 5),
            t(100, 1_000_000_000), // invalid nsec: both brackets touching it skipped
            t(150, 5),
            t(100, 10),
            t(150, 20), // bracket [10, 30], width 20 -> mid 20, offset 50 s + 0, unc 10
            t(100, 30),
        ];
        assert_eq!(offset_from_samples(&ts), Some(PtpOffset { offset_ns: 50_000_000_000, uncertainty_ns: 10 }));
        assert_eq!(offset_from_samples(&ts[..5]), None);
        assert_eq!(offset_from_samples(&[]), None);
        assert_eq!(offset_from_samples(&ts[..2]), None);
        // offset out of i64 range
        assert_eq!(offset_from_samples(&[t(0, 0), t(i64::MAX, 0), t(0, 0)]), None);
    }

    #[test]
    fn sys_offset_struct() {
        let mut s = PtpSysOffset { n_samples: 2, ..Default::default() };
        s.ts[..5].copy_from_slice(&[t(100, 0), t(150, 500), t(100, 1000), t(150, 1300), t(100, 1400)]);
        // A stale, narrower bracket past 2n+1 must not be used.
        s.ts[5] = t(150, 0);
        s.ts[6] = t(100, 1401);
        assert_eq!(offset_from_sys_offset(&s), Some(PtpOffset { offset_ns: 50_000_000_100, uncertainty_ns: 200 }));
        s.n_samples = 0;
        assert_eq!(offset_from_sys_offset(&s), None);
        s.n_samples = u32::MAX; // capped at 25: all-zero tail brackets have width 0
        assert!(offset_from_sys_offset(&s).is_some());
    }

    #[test]
    fn find_kvm_ptp_in_fake_sysfs() {
        let root = tempfile::tempdir().unwrap();
        let class = root.path().join("class/ptp");
        let devices = root.path().join("devices");
        std::fs::create_dir_all(&class).unwrap();
        let add = |name: &str, clock: Option<&str>| {
            // Like real sysfs: class entries are symlinks to device directories.
            let d = devices.join(name);
            std::fs::create_dir_all(&d).unwrap();
            if let Some(c) = clock {
                std::fs::write(d.join("clock_name"), c).unwrap();
            }
            std::os::unix::fs::symlink(&d, class.join(name)).unwrap();
        };
        assert_eq!(find_kvm_ptp(&class), None);
        add("ptp0", Some("e1000e\n"));
        add("ptpX", Some("KVM virtual PTP\n")); // not ptp<number>
        add("ptp1", None); // no clock_name
        assert_eq!(find_kvm_ptp(&class), None);
        add("ptp12", Some("KVM virtual PTP\n"));
        assert_eq!(find_kvm_ptp(&class), Some(PathBuf::from("/dev/ptp12")));
        add("ptp3", Some("KVM virtual PTP\n"));
        assert_eq!(find_kvm_ptp(&class), Some(PathBuf::from("/dev/ptp3")));
        assert_eq!(find_kvm_ptp(&root.path().join("missing")), None);
    }

    #[test]
    fn read_offset_on_non_ptp_files() {
        assert_eq!(read_offset(Path::new("/nonexistent/ptp0")).unwrap_err().kind(), io::ErrorKind::NotFound);
        // /dev/null knows no PTP ioctl: PRECISE fails with ENOTTY, the fallback too.
        assert_eq!(read_offset(Path::new("/dev/null")).unwrap_err().raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn read_offset_on_real_kvm_ptp_if_present() {
        // Runs only inside a KVM guest with ptp_kvm loaded.
        if let Some(dev) = find_kvm_ptp(Path::new("/sys/class/ptp")) {
            let o = read_offset(&dev).unwrap();
            assert!(o.uncertainty_ns >= 0);
        }
    }
}
