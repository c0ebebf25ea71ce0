//! A fast path for the record lines a run is made of.
//!
//! Nearly every line of a record file is a sampler window, a timer window,
//! a counter read or an exchange, written by serde_json in one canonical
//! form: no whitespace, fields in declaration order, integers as digits.
//! Reading those with a general JSON parser costs most of `report`'s time
//! (matching every key as a string, then dispatching on it). Here such a
//! line is read by walking its expected bytes; the first byte that differs
//! from the canonical form (another message kind, a field added, a float,
//! an escape, a hand-edited file) gives up and the caller falls back to
//! serde, so the fast path can be wrong only by being slow. A round-trip
//! test pins the canonical form to what serde writes.

use crate::{DeltaStats, Exchange, GuestMessage, Jiffies, KernelCounters, LatencyStats, TickWindow, Window};

use super::{RecordBody, RunRecord};
use crate::ClockId;

/// The record, if the line is a guest window, timer window, counter read or
/// exchange in the exact form serde_json writes it; None otherwise.
pub fn parse(line: &[u8]) -> Option<RunRecord> {
    let mut c = Cursor { s: line, i: 0 };
    c.lit(b"{\"host_realtime_ns\":")?;
    let host_realtime_ns = c.i64()?;
    c.lit(b",\"host_monotonic_ns\":")?;
    let host_monotonic_ns = c.u64()?;
    c.lit(b",\"guest\":{\"type\":\"")?;
    let message = if c.lit(b"window\"").is_some() {
        GuestMessage::Window(window(&mut c)?)
    } else if c.lit(b"exchange\"").is_some() {
        GuestMessage::Exchange(exchange(&mut c)?)
    } else if c.lit(b"tick_window\"").is_some() {
        GuestMessage::TickWindow(tick_window(&mut c)?)
    } else if c.lit(b"kernel_counters\"").is_some() {
        GuestMessage::KernelCounters(kernel_counters(&mut c)?)
    } else {
        return None;
    };
    c.lit(b"}}")?;
    c.end()?;
    Some(RunRecord { host_realtime_ns, host_monotonic_ns, body: RecordBody::Guest(message) })
}

fn window(c: &mut Cursor) -> Option<Window> {
    Some(Window {
        index: c.field(b"index")?.u64()?,
        cpu: c.field(b"cpu")?.u32()?,
        clock: {
            c.field(b"clock")?;
            if c.lit(b"null").is_some() {
                None
            } else if c.lit(b"\"monotonic\"").is_some() {
                Some(ClockId::Monotonic)
            } else if c.lit(b"\"monotonic_raw\"").is_some() {
                Some(ClockId::MonotonicRaw)
            } else {
                c.lit(b"\"realtime\"")?;
                Some(ClockId::Realtime)
            }
        },
        start_ns: c.field(b"start_ns")?.u64()?,
        end_ns: c.field(b"end_ns")?.u64()?,
        samples: c.field(b"samples")?.u64()?,
        delta: {
            c.field(b"delta")?.lit(b"{\"p50_ns\":")?;
            let p50_ns = c.u64()?;
            let d = DeltaStats { p50_ns, p99_ns: c.field(b"p99_ns")?.u64()?, p999_ns: c.field(b"p999_ns")?.u64()?, max_ns: c.field(b"max_ns")?.u64()? };
            c.lit(b"}")?;
            d
        },
        max_gap_ns: c.field(b"max_gap_ns")?.u64()?,
        max_gap_at_ns: c.field(b"max_gap_at_ns")?.u64()?,
        backwards_steps: c.field(b"backwards_steps")?.u64()?,
        worst_backwards_ns: c.field(b"worst_backwards_ns")?.u64()?,
        tsc_reads: c.field(b"tsc_reads")?.u64()?,
        tsc_backwards_steps: c.field(b"tsc_backwards_steps")?.u64()?,
        tsc_ticks: c.field(b"tsc_ticks")?.u64()?,
        clock_elapsed_ns: c.field(b"clock_elapsed_ns")?.u64()?,
        warps: c.field(b"warps")?.u64()?,
        worst_warp_ns: c.field(b"worst_warp_ns")?.u64()?,
        dropped_so_far: c.field(b"dropped_so_far")?.u64()?,
    })
}

fn exchange(c: &mut Cursor) -> Option<Exchange> {
    Some(Exchange {
        seq: c.field(b"seq")?.u64()?,
        t1_ns: c.field(b"t1_ns")?.i64()?,
        t2_ns: c.field(b"t2_ns")?.i64()?,
        t3_ns: c.field(b"t3_ns")?.i64()?,
        offset_ns: c.field(b"offset_ns")?.i64()?,
        uncertainty_ns: c.field(b"uncertainty_ns")?.i64()?,
        burst: c.field(b"burst")?.bool()?,
        // Written only when true.
        shared_memory: if c.lit(b",\"shared_memory\":").is_some() { c.bool()? } else { false },
    })
}

fn tick_window(c: &mut Cursor) -> Option<TickWindow> {
    Some(TickWindow {
        index: c.field(b"index")?.u64()?,
        rate_hz: c.field(b"rate_hz")?.u32()?,
        mono_ns: c.field(b"mono_ns")?.u64()?,
        realtime_ns: c.field(b"realtime_ns")?.i64()?,
        expirations: c.field(b"expirations")?.u64()?,
        wakeups: c.field(b"wakeups")?.u64()?,
        latency: {
            c.field(b"latency")?.lit(b"{\"samples\":")?;
            let samples = c.u64()?;
            let l = LatencyStats { samples, p50_ns: c.field(b"p50_ns")?.u64()?, p99_ns: c.field(b"p99_ns")?.u64()?, max_ns: c.field(b"max_ns")?.u64()? };
            c.lit(b"}")?;
            l
        },
    })
}

fn kernel_counters(c: &mut Cursor) -> Option<KernelCounters> {
    let mono_ns = c.field(b"mono_ns")?.u64()?;
    let realtime_ns = c.field(b"realtime_ns")?.i64()?;
    c.field(b"local_timer_interrupts")?.lit(b"[")?;
    let mut local_timer_interrupts = Vec::new();
    if c.lit(b"]").is_none() {
        loop {
            local_timer_interrupts.push(c.u64()?);
            if c.lit(b"]").is_some() {
                break;
            }
            c.lit(b",")?;
        }
    }
    c.field(b"jiffies")?;
    let jiffies = if c.lit(b"null").is_some() {
        None
    } else {
        c.lit(b"{\"value\":")?;
        let value = c.u64()?;
        let j = Jiffies { value, realtime_ns: c.field(b"realtime_ns")?.i64()? };
        c.lit(b"}")?;
        Some(j)
    };
    c.field(b"steal_ticks")?;
    let steal_ticks = if c.lit(b"null").is_some() { None } else { Some(c.u64()?) };
    Some(KernelCounters { mono_ns, realtime_ns, local_timer_interrupts, jiffies, steal_ticks })
}

/// Eight ASCII digits, read little-endian into a u64? (SWAR: every byte's
/// high nibble is 3, and adding 6 does not carry out of the low nibble.)
fn eight_digits(chunk: u64) -> bool {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    (chunk & HIGH) | ((chunk.wrapping_add(0x0606_0606_0606_0606) & HIGH) >> 4) == 0x3333_3333_3333_3333
}

/// The value of eight ASCII digits (little-endian: the first digit is the
/// lowest byte), combining pairs, then quads, then the halves (the
/// technique of simdjson and fast_float).
fn parse_eight(chunk: u64) -> u64 {
    let v = chunk - 0x3030_3030_3030_3030;
    let v = (v * 10) + (v >> 8);
    (((v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32)))
        .wrapping_add(((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32))))
        >> 32
}

/// Walks a line, expecting exact bytes.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn lit(&mut self, expected: &[u8]) -> Option<&mut Self> {
        if self.s[self.i..].starts_with(expected) {
            self.i += expected.len();
            Some(self)
        } else {
            None
        }
    }

    /// `,"name":` (every field but a message's tag is preceded by another).
    fn field(&mut self, name: &[u8]) -> Option<&mut Self> {
        self.lit(b",\"")?.lit(name)?.lit(b"\":")
    }

    fn digits(&mut self) -> Option<u64> {
        let rest = &self.s[self.i..];
        // Up to 19 digits always fit in a u64: no overflow checks until then.
        // Timestamps have 10-19 digits: take eight at a time while we can.
        let (mut v, mut n) = (0u64, 0usize);
        while n + 8 <= 19 {
            let Some(chunk) = rest.get(n..n + 8) else { break };
            let chunk = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            if !eight_digits(chunk) {
                break;
            }
            v = v * 100_000_000 + parse_eight(chunk);
            n += 8;
        }
        while n < 19 {
            match rest.get(n) {
                Some(&b) if b.is_ascii_digit() => v = v * 10 + u64::from(b - b'0'),
                _ => break,
            }
            n += 1;
        }
        if let Some(&b) = rest.get(n).filter(|b| b.is_ascii_digit()) {
            v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?; // a 20th digit
            n += 1;
        }
        // serde_json writes no leading zeros; a '.' or exponent is a float;
        // a 21st digit cannot be a u64.
        if n == 0 || (n > 1 && rest[0] == b'0') || matches!(rest.get(n), Some(b'.' | b'e' | b'E' | b'0'..=b'9')) {
            return None;
        }
        self.i += n;
        Some(v)
    }

    fn u64(&mut self) -> Option<u64> {
        self.digits()
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.digits()?).ok()
    }

    fn i64(&mut self) -> Option<i64> {
        if self.lit(b"-").is_some() {
            let magnitude = self.digits()?;
            // serde_json reads `-0` as a float, which no integer field
            // takes: leave it to serde, to be refused the same way.
            if magnitude == 0 {
                return None;
            }
            if magnitude == 1 << 63 {
                return Some(i64::MIN);
            }
            i64::try_from(magnitude).ok().map(|m| -m)
        } else {
            i64::try_from(self.digits()?).ok()
        }
    }

    fn bool(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() {
            Some(true)
        } else {
            self.lit(b"false").map(|_| false)
        }
    }

    /// Only a trailing carriage return may follow.
    fn end(&self) -> Option<()> {
        matches!(&self.s[self.i..], b"" | b"\r").then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64, with the extremes mixed in often.
    struct Values(u64);

    impl Values {
        fn u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            match z % 8 {
                0 => 0,
                1 => u64::MAX,
                2 => z % 1000,
                3 => 1 << 63,
                _ => z,
            }
        }
        fn i64(&mut self) -> i64 {
            self.u64() as i64
        }
        fn u32(&mut self) -> u32 {
            self.u64() as u32
        }
    }

    fn records(v: &mut Values) -> Vec<RunRecord> {
        let clock = [None, Some(ClockId::Monotonic), Some(ClockId::MonotonicRaw), Some(ClockId::Realtime)][(v.u64() % 4) as usize];
        let window = Window {
            index: v.u64(),
            cpu: v.u32(),
            clock,
            start_ns: v.u64(),
            end_ns: v.u64(),
            samples: v.u64(),
            delta: DeltaStats { p50_ns: v.u64(), p99_ns: v.u64(), p999_ns: v.u64(), max_ns: v.u64() },
            max_gap_ns: v.u64(),
            max_gap_at_ns: v.u64(),
            backwards_steps: v.u64(),
            worst_backwards_ns: v.u64(),
            tsc_reads: v.u64(),
            tsc_backwards_steps: v.u64(),
            tsc_ticks: v.u64(),
            clock_elapsed_ns: v.u64(),
            warps: v.u64(),
            worst_warp_ns: v.u64(),
            dropped_so_far: v.u64(),
        };
        let exchange = Exchange {
            seq: v.u64(),
            t1_ns: v.i64(),
            t2_ns: v.i64(),
            t3_ns: v.i64(),
            offset_ns: v.i64(),
            uncertainty_ns: v.i64(),
            burst: v.u64() % 2 == 0,
            shared_memory: v.u64() % 3 == 0,
        };
        let ticks = TickWindow {
            index: v.u64(),
            rate_hz: v.u32(),
            mono_ns: v.u64(),
            realtime_ns: v.i64(),
            expirations: v.u64(),
            wakeups: v.u64(),
            latency: LatencyStats { samples: v.u64(), p50_ns: v.u64(), p99_ns: v.u64(), max_ns: v.u64() },
        };
        let counters = KernelCounters {
            mono_ns: v.u64(),
            realtime_ns: v.i64(),
            local_timer_interrupts: (0..v.u64() % 4).map(|_| v.u64()).collect(),
            jiffies: (v.u64() % 2 == 0).then(|| Jiffies { value: v.u64(), realtime_ns: v.i64() }),
            steal_ticks: (v.u64() % 2 == 0).then(|| v.u64()),
        };
        [GuestMessage::Window(window), GuestMessage::Exchange(exchange), GuestMessage::TickWindow(ticks), GuestMessage::KernelCounters(counters)]
            .into_iter()
            .map(|m| RunRecord { host_realtime_ns: v.i64(), host_monotonic_ns: v.u64(), body: RecordBody::Guest(m) })
            .collect()
    }

    #[test]
    fn what_serde_writes_the_fast_path_reads_back_identically() {
        let mut v = Values(7);
        for _ in 0..5_000 {
            for record in records(&mut v) {
                let line = serde_json::to_vec(&record).unwrap();
                assert_eq!(parse(&line).as_ref(), Some(&record), "{}", String::from_utf8_lossy(&line));
            }
        }
    }

    #[test]
    fn eight_digits_at_a_time() {
        let chunk = |s: &[u8; 8]| u64::from_le_bytes(*s);
        assert_eq!(parse_eight(chunk(b"12345678")), 12_345_678);
        assert_eq!(parse_eight(chunk(b"00000000")), 0);
        assert_eq!(parse_eight(chunk(b"99999999")), 99_999_999);
        assert!(eight_digits(chunk(b"01234567")));
        for bad in [b"1234567,", b"/1234567", b"1234:567", b"12345 78"] {
            assert!(!eight_digits(chunk(bad)), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn anything_else_is_left_to_serde() {
        let mut v = Values(1);
        let line = String::from_utf8(serde_json::to_vec(&records(&mut v)[0]).unwrap()).unwrap();
        for other in [
            line.replacen("{\"host_realtime_ns\":", "{ \"host_realtime_ns\":", 1), // whitespace
            line.replacen("}}", ",\"extra\":1}}", 1),                              // a field added
            line.replacen("\"index\":", "\"index\":1.5,\"x\":", 1),                // a float
            line[..line.len() - 1].to_owned(),                                     // torn
            line.clone() + "x",                                                    // trailing bytes
            r#"{"host_realtime_ns":1,"host_monotonic_ns":2,"guest":{"type":"ping","seq":4,"t1_ns":8}}"#.to_owned(),
            r#"{"host_realtime_ns":1,"host_monotonic_ns":2,"harness":{"event":"timeline_origin"}}"#.to_owned(),
            r#"{"host_realtime_ns":99999999999999999999,"host_monotonic_ns":2,"guest":{"type":"window"}}"#.to_owned(),
            line.replacen("\"index\":", "\"index\":184467440737095516150", 1), // 21 digits
            line.replacen("\"index\":", "\"index\":18446744073709551616", 1),  // u64::MAX + 1
        ] {
            assert_eq!(parse(other.as_bytes()), None, "{other}");
        }
        assert!(parse(format!("{line}\r").as_bytes()).is_some(), "a CRLF line");
    }

    /// Found checking the `record_lines` fuzz target's property (the fast
    /// path takes only lines serde takes, and reads them alike) against
    /// serde_json's integer rules (fuzz/regressions/record_lines/): the fast
    /// path read `-0` as 0 where serde refuses the line (`-0` is a float).
    #[test]
    fn minus_zero_is_left_to_serde_which_refuses_it() {
        let line = r#"{"host_realtime_ns":-0,"host_monotonic_ns":2,"guest":{"type":"exchange","seq":0,"t1_ns":1,"t2_ns":2,"t3_ns":3,"offset_ns":-0,"uncertainty_ns":1,"burst":false}}"#;
        assert_eq!(parse(line.as_bytes()), None);
        assert!(serde_json::from_str::<RunRecord>(line).is_err());
        assert!(parse(line.replace(":-0,", ":-1,").as_bytes()).is_some());
    }
}
