//! `clockstorm events [FILE|-] [--json] [--all]`: the clock events in a
//! console log, dmesg output or /var/log/messages (syslog or journal
//! prefixes), one per line or as JSON Lines.

use std::io::{BufRead, Write};

use clockstorm_reports::kernel_events::{KernelEvent, Parser};

use crate::error::Error;
use crate::exit_code;

/// Runs the command: `path` is a file, or `-`/None for standard input.
pub fn run(path: Option<&str>, json: bool, all: bool) -> Result<u8, Error> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = match path {
        None | Some("-") => parse_into(std::io::stdin().lock(), &mut out, json, all),
        Some(p) => {
            let file = std::fs::File::open(p).map_err(|e| Error::BadArgument { what: "FILE", message: format!("cannot read {p}: {e}") })?;
            parse_into(std::io::BufReader::new(file), &mut out, json, all)
        }
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(exit_code::SUCCESS),
        // A closed pipe (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit_code::SUCCESS),
        Err(e) => Err(Error::BadArgument { what: "FILE", message: format!("cannot read {}: {e}", path.unwrap_or("-")) }),
    }
}

/// Streams `input` through the parser into `out`. Lines that are not
/// UTF-8 are read lossily.
pub fn parse_into(mut input: impl BufRead, out: &mut impl Write, json: bool, all: bool) -> std::io::Result<()> {
    let mut parser = Parser::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        for e in parser.push_line(&line) {
            write_event(out, &e, json, all)?;
        }
    }
    for e in parser.finish() {
        write_event(out, &e, json, all)?;
    }
    Ok(())
}

fn write_event(out: &mut impl Write, e: &KernelEvent, json: bool, all: bool) -> std::io::Result<()> {
    if !all && !e.is_clock_event() {
        return Ok(());
    }
    if json {
        serde_json::to_writer(&mut *out, e).map_err(std::io::Error::other)?;
        writeln!(out)
    } else {
        writeln!(out, "{}", format_line(e))
    }
}

/// One human line: `[   12.066582] clocksource_long_readout     cs_nsec=… …`.
pub fn format_line(e: &KernelEvent) -> String {
    let ts = match e.ts_us() {
        Some(us) => format!("[{:>5}.{:06}]", us / 1_000_000, us % 1_000_000),
        None => format!("[{:>12}]", "-"),
    };
    format!("{ts} {:<30} {}", e.kind(), e.summary()).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[    1.882268] clocksource: Switched to clocksource tsc
[    4.000000] Run /init as init process
[   12.066582] clocksource: Long readout interval, skipping watchdog check: cs_nsec: 6473708936 wd_nsec: 6473653720
";

    fn render(json: bool, all: bool) -> String {
        let mut out = Vec::new();
        parse_into(LOG.as_bytes(), &mut out, json, all).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_omits_other_lines() {
        assert_eq!(
            render(false, false),
            "[    1.882268] clocksource_switched           tsc\n\
             [   12.066582] clocksource_long_readout       cs_nsec=6473708936 wd_nsec=6473653720 skew=55216ns\n"
        );
        assert_eq!(render(false, true).lines().count(), 3);
    }

    #[test]
    fn json_lines() {
        let s = render(true, false);
        let v: Vec<serde_json::Value> = s.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["kind"], "clocksource_long_readout");
        assert_eq!(v[1]["ts_us"], 12_066_582);
        assert_eq!(v[1]["skew_ns"], 55_216);
    }

    #[test]
    fn missing_file_is_a_usage_error_naming_the_file() {
        let e = run(Some("/nonexistent/console.log"), false, false).unwrap_err();
        assert_eq!(e.exit_code(), exit_code::USAGE);
        assert!(e.to_string().starts_with("FILE: cannot read /nonexistent/console.log: "), "{e}");
    }
}
