//! Where progress goes: plain lines on a stderr that is not a terminal
//! (one per update, no carriage returns, no ANSI), or, on a terminal, the
//! same lines scrolling above a live status that is redrawn in place. The
//! text is [`super::progress`]'s; this only writes it.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::progress::{Board, Update};
use super::Verbosity;

/// The live status is redrawn at most this often (the run loop ticks every
/// 50 ms; a redraw is a few hundred bytes).
const REDRAW_INTERVAL: Duration = Duration::from_millis(250);

/// Lines of live status on the terminal now, under the one lock every
/// writer to stderr that knows of it takes ([`clear_live`]).
static LIVE_LINES: Mutex<usize> = Mutex::new(0);

/// A matrix's progress reporter, shared by its workers.
pub struct Progress {
    origin: Instant,
    verbosity: Verbosity,
    live: bool,
    state: Mutex<(Board, Option<Instant>)>,
}

impl Progress {
    /// For this process's stderr at the verbosity in force: live on a
    /// terminal (unless `-q`), plain lines elsewhere.
    pub fn for_stderr() -> Progress {
        let verbosity = super::verbosity();
        Progress::new(verbosity, verbosity > Verbosity::Quiet && super::stderr_is_live())
    }

    pub fn new(verbosity: Verbosity, live: bool) -> Progress {
        Progress { origin: Instant::now(), verbosity, live, state: Mutex::new((Board::default(), None)) }
    }

    /// Takes an update: prints its lines (above the live status, which is
    /// then redrawn).
    pub fn send(&self, update: Update) {
        let at = self.origin.elapsed();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let lines = state.0.apply(&update, at, self.verbosity);
        if !self.live {
            if !lines.is_empty() {
                let mut text = lines.join("\n");
                text.push('\n');
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            return;
        }
        let status = state.0.live_lines(at);
        state.1 = Some(Instant::now());
        draw(&lines, &status);
    }

    /// Redraws the live status when it is due (elapsed times move on).
    pub fn tick(&self) {
        if !self.live {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.1.is_some_and(|t| t.elapsed() < REDRAW_INTERVAL) {
            return;
        }
        state.1 = Some(Instant::now());
        let status = state.0.live_lines(self.origin.elapsed());
        draw(&[], &status);
    }

    /// Takes the live status off the terminal (the report follows).
    pub fn finish(&self) {
        if self.live {
            clear_live();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Clears the live status, if one is drawn, so that a line written next
/// does not land inside it; the next redraw puts it back below.
pub fn clear_live() {
    let mut drawn = LIVE_LINES.lock().unwrap_or_else(|e| e.into_inner());
    if *drawn > 0 {
        let _ = std::io::stderr().lock().write_all(erase(*drawn).as_bytes());
        *drawn = 0;
    }
}

/// Cursor up and clear, once per line drawn.
fn erase(lines: usize) -> String {
    "\x1b[1A\x1b[2K".repeat(lines)
}

fn draw(lines: &[String], status: &[String]) {
    let mut drawn = LIVE_LINES.lock().unwrap_or_else(|e| e.into_inner());
    let width = terminal_width();
    let mut text = erase(*drawn);
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    // Each status line cut to the width: a wrapped line would make the
    // next erase miss a row.
    for l in status {
        text.extend(l.chars().take(width.saturating_sub(1)));
        text.push('\n');
    }
    *drawn = status.len();
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Columns of the terminal on stderr (80 when it does not say).
fn terminal_width() -> usize {
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which
    // points to a live, writable one; on error nothing is written.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        size.ws_col as usize
    } else {
        80
    }
}
