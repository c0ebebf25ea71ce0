//! Parser for `/proc/timer_list` (root only, mode 0400; needs
//! `CONFIG_TIMER_LIST`, which is under `CONFIG_PROC_FS` + `CONFIG_GENERIC_CLOCKEVENTS`).
//!
//! Only two values are read:
//!
//! * `now at 1436741010017 nsecs`: `CLOCK_MONOTONIC` (ktime_get) when the
//!   kernel started printing, line 3 of the file;
//! * `jiffies: 4295252102`: the jiffies counter, printed (unindented) at the
//!   end of each CPU's tick-sched section. The first occurrence is used. Not
//!   to be confused with the indented `.idle_jiffies` / `.last_jiffies`
//!   fields just above it.
//!
//! The two are sampled a few microseconds apart while the kernel formats the
//! file; that skew is negligible against a jiffy (1-10 ms).
//!
//! Both values show up within the first few KB (the `jiffies:` line closes
//! the CPU 0 section), whereas the whole file grows with the number of CPUs
//! and armed timers: hundreds of KB on large machines, all of it formatted
//! by the kernel under its locks. [`read_snapshot`] therefore reads in small
//! fixed chunks and stops as soon as both values are known.
//!
//! Everything here is pure (except [`read_snapshot`]) and never panics.

use std::io::{self, Read};
use std::path::Path;

/// The two clock readings taken from one read of `/proc/timer_list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerListSnapshot {
    /// `now at N nsecs`: `CLOCK_MONOTONIC` in ns at the time of the read.
    pub now_ns: u64,
    /// `jiffies: N`: the kernel's jiffies counter (64-bit; starts at
    /// `-300 * HZ` modulo 2^32 on boot so 32-bit wrap bugs show early).
    pub jiffies: u64,
}

/// Incremental line scanner shared by [`snapshot`] and [`read_snapshot`].
#[derive(Default)]
struct Scanner {
    now_ns: Option<u64>,
    jiffies: Option<u64>,
}

impl Scanner {
    /// Feeds one line (without its newline). Returns `true` once both values
    /// are known.
    fn line(&mut self, line: &str) -> bool {
        if self.now_ns.is_none() {
            if let Some(rest) = line.strip_prefix("now at ") {
                let mut it = rest.split_ascii_whitespace();
                if let (Some(n), Some("nsecs")) = (it.next(), it.next()) {
                    self.now_ns = n.parse().ok();
                }
            }
        }
        if self.jiffies.is_none() {
            if let Some(rest) = line.trim_start().strip_prefix("jiffies:") {
                self.jiffies = rest.trim().parse().ok();
            }
        }
        self.done()
    }

    fn done(&self) -> bool {
        self.now_ns.is_some() && self.jiffies.is_some()
    }

    fn finish(&self) -> Option<TimerListSnapshot> {
        Some(TimerListSnapshot { now_ns: self.now_ns?, jiffies: self.jiffies? })
    }
}

/// Extracts the first `now at N nsecs` and the first `jiffies: N` from the
/// text of `/proc/timer_list`, stopping at the line where both are known.
/// Returns `None` if either is missing or malformed.
pub fn snapshot(text: &str) -> Option<TimerListSnapshot> {
    let mut s = Scanner::default();
    for line in text.lines() {
        if s.line(line) {
            break;
        }
    }
    s.finish()
}

/// Longest line [`read_snapshot`] keeps; longer lines cannot be one of the
/// two wanted lines and are skipped.
const MAX_LINE: usize = 128;
/// Read size of [`read_snapshot`]. seq_file hands out at most a page per
/// read anyway.
const CHUNK: usize = 4096;

/// Reads `path` (normally `/proc/timer_list`) in fixed 4 KiB chunks with no
/// heap allocation and stops as soon as both values are known.
///
/// Why: the file is generated on every read, holds every armed hrtimer of
/// every CPU and can be hundreds of KB on big machines, while the two values
/// sit in the first few KB. Reading it whole 10 times a second would cost
/// far more kernel time than the measurement is worth and would perturb it.
///
/// Returns `Ok(None)` if the file ends before both values were found, and
/// the I/O error if opening or reading fails (`PermissionDenied` when not
/// root, `NotFound` without `CONFIG_TIMER_LIST`).
pub fn read_snapshot(path: &Path) -> io::Result<Option<TimerListSnapshot>> {
    let mut file = std::fs::File::open(path)?;
    scan_reader(&mut file)
}

/// The chunked scan behind [`read_snapshot`], generic over the reader so it
/// can be tested with tiny reads.
fn scan_reader<R: Read>(r: &mut R) -> io::Result<Option<TimerListSnapshot>> {
    let mut buf = [0u8; CHUNK];
    let mut line = [0u8; MAX_LINE];
    let mut len = 0usize; // bytes of the current line kept in `line`
    let mut overlong = false; // current line exceeded MAX_LINE: skip it
    let mut s = Scanner::default();
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for seg in buf[..n.min(CHUNK)].split_inclusive(|&b| b == b'\n') {
            let (body, ends) = match seg.split_last() {
                Some((b'\n', body)) => (body, true),
                _ => (seg, false),
            };
            if !overlong {
                if let Some(dst) = line.get_mut(len..len + body.len()) {
                    dst.copy_from_slice(body);
                    len += body.len();
                } else {
                    overlong = true;
                }
            }
            if ends {
                if !overlong && feed(&mut s, &line[..len]) {
                    return Ok(s.finish());
                }
                len = 0;
                overlong = false;
            }
        }
    }
    // Last line without a trailing newline.
    if !overlong && len > 0 {
        feed(&mut s, &line[..len]);
    }
    Ok(s.finish())
}

/// Feeds one raw line to the scanner, ignoring lines that are not UTF-8.
fn feed(s: &mut Scanner, raw: &[u8]) -> bool {
    match std::str::from_utf8(raw) {
        Ok(l) => s.line(l),
        Err(_) => false,
    }
}

/// The kernel's `CONFIG_HZ` choices.
const HZ_CHOICES: [u32; 4] = [100, 250, 300, 1000];

/// Guesses `CONFIG_HZ` from a jiffies delta over `elapsed_ns` of
/// `CLOCK_MONOTONIC` (e.g. two [`TimerListSnapshot`]s, or uptime since
/// boot).
///
/// Snaps to the nearest of 100, 250, 300 and 1000 Hz if the measured rate is
/// within 10 % of it; otherwise (or if `elapsed_ns` is 0) returns `None`.
/// Use an interval of at least a second or so: the delta has +-1 jiffy of
/// quantisation, and NO_HZ idle can let jiffies lag briefly.
pub fn estimate_hz(jiffies_delta: u64, elapsed_ns: u64) -> Option<u32> {
    if elapsed_ns == 0 {
        return None;
    }
    // Compare jiffies_delta / elapsed_s with hz, scaled to integers:
    // measured = jiffies_delta * 1e9, expected = hz * elapsed_ns (u128: no overflow).
    let measured = u128::from(jiffies_delta) * 1_000_000_000;
    HZ_CHOICES
        .iter()
        .map(|&hz| {
            let expected = u128::from(hz) * u128::from(elapsed_ns);
            (hz, measured.abs_diff(expected), expected)
        })
        .filter(|&(_, diff, expected)| diff * 10 <= expected)
        .min_by_key(|&(_, diff, _)| diff)
        .map(|(hz, _, _)| hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's /proc/timer_list (2 vCPUs, 6.18, CONFIG_HZ=250).
    const HOST_2CPU: &str = include_str!("../../tests/fixtures/procfs/host-2cpu-timer_list.txt");

    /// (text, expected)
    const CASES: &[(&str, Option<TimerListSnapshot>)] = &[
        (
            HOST_2CPU,
            Some(TimerListSnapshot {
                // awk '/^now at/{print $3; exit}' host-2cpu-timer_list.txt -> 1439454377103
                now_ns: 1439454377103,
                // awk '$1=="jiffies:"{print $2; exit}' host-2cpu-timer_list.txt -> 4295252102
                jiffies: 4295252102,
            }),
        ),
        ("now at 5 nsecs\njiffies: 7\n", Some(TimerListSnapshot { now_ns: 5, jiffies: 7 })),
        // first occurrence wins; indented .last_jiffies is not jiffies
        ("  .last_jiffies   : 1\nnow at 5 nsecs\njiffies: 7\nnow at 6 nsecs\njiffies: 8", Some(TimerListSnapshot { now_ns: 5, jiffies: 7 })),
        ("now at 5 nsecs\n", None),
        ("jiffies: 7\n", None),
        ("now at x nsecs\njiffies: 7\n", None),
        ("now at 5 usecs\njiffies: 7\n", None),
        ("now at 5 nsecs\njiffies: -7\n", None),
        ("", None),
    ];

    #[test]
    fn snapshot_cases() {
        for (i, (text, want)) in CASES.iter().enumerate() {
            assert_eq!(snapshot(text), *want, "case {i}");
        }
    }

    /// A reader that hands out at most `step` bytes per call, to exercise
    /// lines split across chunk boundaries.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            // Every other call is interrupted, as a signal would.
            if self.reads & 1 == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn chunked_scan_matches_snapshot() {
        for (i, (text, want)) in CASES.iter().enumerate() {
            for step in [1, 2, 7, 64, 4096, 1 << 20] {
                let mut r = Trickle { data: text.as_bytes(), step, reads: 0 };
                assert_eq!(scan_reader(&mut r).unwrap(), *want, "case {i} step {step}");
            }
        }
    }

    #[test]
    fn chunked_scan_stops_early() {
        let mut r = Trickle { data: HOST_2CPU.as_bytes(), step: 512, reads: 0 };
        assert!(scan_reader(&mut r).unwrap().is_some());
        // grep -b "^jiffies:" host-2cpu-timer_list.txt | head -1 -> 2944:jiffies: ...
        // so the scan must stop well before the end of the 6 KB file.
        assert!(!r.data.is_empty(), "read the whole file");
    }

    #[test]
    fn chunked_scan_skips_overlong_and_binary_lines() {
        let long = "x".repeat(MAX_LINE * 3);
        let text = format!("{long}now at 1 nsecs\n\u{1}\u{fffd}\nnow at 2 nsecs\n{long}\njiffies: 3\n");
        let mut r = Trickle { data: text.as_bytes(), step: 100, reads: 0 };
        assert_eq!(scan_reader(&mut r).unwrap(), Some(TimerListSnapshot { now_ns: 2, jiffies: 3 }));
        let mut bin: &[u8] = b"\xff\xfe\nnow at 1 nsecs\n\xc3\njiffies: 9";
        assert_eq!(scan_reader(&mut bin).unwrap(), Some(TimerListSnapshot { now_ns: 1, jiffies: 9 }));
    }

    #[test]
    fn read_snapshot_from_file_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("timer_list");
        std::fs::write(&p, HOST_2CPU).unwrap();
        assert_eq!(read_snapshot(&p).unwrap(), CASES[0].1);
        let missing = read_snapshot(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn read_live_timer_list_if_readable() {
        // Only meaningful as root on a kernel with CONFIG_TIMER_LIST.
        if let Ok(Some(s)) = read_snapshot(Path::new("/proc/timer_list")) {
            assert!(s.now_ns > 0 && s.jiffies > 0);
        }
    }

    #[test]
    fn estimate_hz_cases() {
        // (jiffies_delta, elapsed_ns, expected)
        let cases: &[(u64, u64, Option<u32>)] = &[
            (100, 1_000_000_000, Some(100)),
            (250, 1_000_000_000, Some(250)),
            (300, 1_000_000_000, Some(300)),
            (1000, 1_000_000_000, Some(1000)),
            (1090, 1_000_000_000, Some(1000)), // +9 %
            (910, 1_000_000_000, Some(1000)),  // -9 %
            (1101, 1_000_000_000, None),       // +10.1 %
            (889, 1_000_000_000, None),        // -11.1 %
            (272, 1_000_000_000, Some(250)),   // in both 10 % windows: 22 from 250, 28 from 300
            (276, 1_000_000_000, Some(300)),   // only within 300's window
            (500, 1_000_000_000, None),
            (0, 1_000_000_000, None),
            (250, 0, None),
            (u64::MAX, 1, None),
            (u64::MAX, u64::MAX, None),
            (2_500, 10_000_000_000, Some(250)),
            (2_501, 10_004_000_000, Some(250)), // +-1 jiffy quantisation
        ];
        for &(d, ns, want) in cases {
            assert_eq!(estimate_hz(d, ns), want, "delta {d} over {ns} ns");
        }
    }

    #[test]
    fn fixture_hz_from_uptime() {
        // jiffies start at INITIAL_JIFFIES = (unsigned long)(unsigned int)(-300 * HZ),
        // i.e. 2^32 - 300 * HZ on 64-bit, so jiffies - INITIAL_JIFFIES counts
        // ticks since boot and now_ns is (about) the time since boot. Only the
        // true HZ is self-consistent. For this fixture:
        // 4295252102 - (4294967296 - 300 * 250) = 359806 ticks over 1439.45 s = 249.96 Hz.
        let s = snapshot(HOST_2CPU).unwrap();
        let consistent: Vec<u32> = HZ_CHOICES
            .iter()
            .copied()
            .filter(|&hz| {
                let initial = (1u64 << 32) - 300 * u64::from(hz);
                estimate_hz(s.jiffies - initial, s.now_ns) == Some(hz)
            })
            .collect();
        assert_eq!(consistent, [250]);
    }
}
