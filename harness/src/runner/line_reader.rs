//! Lines from an untrusted byte stream in bounded memory: a guest can send
//! anything on the data channel (random bytes, a line of gigabytes that
//! never ends), and the harness must neither grow without bound nor lose
//! the lines that follow. A line longer than the cap is not kept: its bytes
//! are counted and discarded up to its newline, and the reader says so.

use std::io::Read;

/// What [`BoundedLines::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line within the cap, without its newline (possibly empty). Bytes, not text:
    /// the caller decides what to do with bytes that are not UTF-8.
    Complete(&'a [u8]),
    /// A line longer than the cap, discarded: its length (newline excluded;
    /// so far, if the stream ended inside it) and its first bytes.
    Overlong { len: u64, head: &'a [u8] },
}

/// A line reader that keeps at most `cap` bytes of a line (its buffer is
/// `cap` plus one read's worth plus room for a head, allocated once).
pub struct BoundedLines<R> {
    input: R,
    buf: Vec<u8>,
    cap: usize,
    /// Bytes of `buf` that hold data, and where the unreturned part starts.
    filled: usize,
    start: usize,
    /// Inside an over-long line: its length so far and the head kept of it.
    overlong: Option<(u64, Vec<u8>)>,
    eof: bool,
}

/// Bytes read from the input at a time.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes of an over-long line kept to show what it was.
pub const HEAD_BYTES: usize = 64;

impl<R: Read> BoundedLines<R> {
    pub fn new(input: R, cap: usize) -> BoundedLines<R> {
        let cap = cap.max(1);
        BoundedLines { input, buf: vec![0; cap + READ_CHUNK + HEAD_BYTES], cap, filled: 0, start: 0, overlong: None, eof: false }
    }

    /// The next line; None at the end of the stream (a last line without a
    /// newline is returned first, as a torn line is still a line). Errors of
    /// the input (other than EINTR) are returned as they come.
    pub fn next_line(&mut self) -> Option<std::io::Result<Line<'_>>> {
        loop {
            let pending = &self.buf[self.start..self.filled];
            if let Some(i) = memchr::memchr(b'\n', pending) {
                let (from, to) = (self.start, self.start + i);
                self.start = to + 1;
                return Some(Ok(self.finish_line(from, to)));
            }
            if let Some((len, head)) = self.overlong.as_mut() {
                // Still inside a discarded line: drop what we have of it.
                *len += pending.len() as u64;
                let room = HEAD_BYTES.saturating_sub(head.len());
                head.extend_from_slice(&pending[..room.min(pending.len())]);
                self.start = self.filled;
            } else if pending.len() > self.cap {
                let head = pending[..HEAD_BYTES.min(pending.len())].to_vec();
                self.overlong = Some((pending.len() as u64, head));
                self.start = self.filled;
            }
            if self.eof {
                return self.finish_stream();
            }
            // Make room: what is unreturned moves to the front.
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
            // Reads stop short of the buffer's end: the head of an over-long
            // line is handed out from there.
            let end = (self.filled + READ_CHUNK).min(self.cap + READ_CHUNK);
            match self.input.read(&mut self.buf[self.filled..end]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The line `buf[from..to]` (its newline at `to`), or the over-long line it ends.
    fn finish_line(&mut self, from: usize, to: usize) -> Line<'_> {
        let len = (to - from) as u64;
        match self.overlong.take() {
            Some((so_far, head)) => self.overlong_line(so_far + len, head),
            None if to - from > self.cap => {
                let head = self.buf[from..from + HEAD_BYTES.min(to - from)].to_vec();
                self.overlong_line(len, head)
            }
            None => Line::Complete(&self.buf[from..to]),
        }
    }

    fn overlong_line(&mut self, len: u64, head: Vec<u8>) -> Line<'_> {
        // The head goes where the line was read: the buffer is ours until the next call.
        let n = head.len();
        self.buf[self.filled..self.filled + n].copy_from_slice(&head);
        Line::Overlong { len, head: &self.buf[self.filled..self.filled + n] }
    }

    /// At the end of the stream: the torn last line, if any, then None.
    fn finish_stream(&mut self) -> Option<std::io::Result<Line<'_>>> {
        if let Some((len, head)) = self.overlong.take() {
            self.start = self.filled;
            // The head is copied after `filled`, where nothing is kept.
            return Some(Ok(self.overlong_line(len, head)));
        }
        if self.start < self.filled {
            let (from, to) = (self.start, self.filled);
            self.start = self.filled;
            return Some(Ok(self.finish_line(from, to)));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes at a time.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    /// Every line, as (Some(text) | None for over-long, length).
    fn lines(input: &[u8], cap: usize, chunk: usize) -> Vec<(Option<String>, u64)> {
        let mut r = BoundedLines::new(Trickle(input.to_vec(), chunk), cap);
        let mut out = Vec::new();
        while let Some(line) = r.next_line() {
            match line.unwrap() {
                Line::Complete(l) => out.push((Some(String::from_utf8_lossy(l).into_owned()), l.len() as u64)),
                Line::Overlong { len, head } => {
                    assert!(head.len() <= HEAD_BYTES && len as usize >= head.len());
                    out.push((None, len))
                }
            }
        }
        out
    }

    #[test]
    fn lines_come_back_whatever_the_reads() {
        for chunk in [1, 3, 7, 1 << 20] {
            let got = lines(b"one\ntwo\n\nthree", 16, chunk);
            let want = vec![(Some("one".into()), 3), (Some("two".into()), 3), (Some(String::new()), 0), (Some("three".into()), 5)];
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn an_overlong_line_is_discarded_to_its_newline_and_the_next_line_kept() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend(b"\nafter\n");
        for chunk in [1, 5, 4096, 1 << 20] {
            let got = lines(&input, 64, chunk);
            assert_eq!(got, vec![(Some("short".into()), 5), (None, 100_000), (Some("after".into()), 5)], "chunk {chunk}");
        }
        // The cap itself is allowed; one more byte is not.
        assert_eq!(lines(&[b'a'; 10].iter().chain(b"\n").copied().collect::<Vec<_>>(), 10, 3), vec![(Some("a".repeat(10)), 10)]);
        assert_eq!(lines(&[b'a'; 11].iter().chain(b"\n").copied().collect::<Vec<_>>(), 10, 3), vec![(None, 11)]);
    }

    #[test]
    fn an_overlong_line_keeps_its_head_and_memory_stays_at_the_cap() {
        let mut input = b"{\"type\":\"garbage\"".to_vec();
        input.extend(std::iter::repeat_n(b'y', 5 << 20));
        let mut r = BoundedLines::new(Trickle(input, 1 << 16), 1024);
        let capacity = r.buf.capacity();
        match r.next_line().unwrap().unwrap() {
            Line::Overlong { len, head } => {
                assert_eq!(len, 17 + (5 << 20), "a stream that ends inside the line: its length so far");
                assert!(head.starts_with(b"{\"type\":\"garbage\"yyy"), "{head:?}");
                assert_eq!(head.len(), HEAD_BYTES);
            }
            other => panic!("{other:?}"),
        }
        assert!(r.next_line().is_none());
        assert_eq!(r.buf.capacity(), capacity, "the buffer never grew");
    }

    #[test]
    fn bytes_that_are_not_text_are_lines_like_any_other() {
        let got = lines(b"\xff\x00\xfe\nok\n", 16, 2);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, 3);
        assert_eq!(got[1], (Some("ok".into()), 2));
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("reset"))
            }
        }
        let mut r = BoundedLines::new(Broken, 8);
        assert!(r.next_line().unwrap().is_err());
    }
}
