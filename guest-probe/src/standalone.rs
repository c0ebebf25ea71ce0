//! Standalone mode: the same measurement on any Linux machine or VM, with
//! the messages written to a file or stdout and the exchanges made over TCP
//! with `clockstorm reference-server` (so an operator can probe a real VM on
//! a real host over its network).
//!
//! guest-probe --standalone [--config FILE] [--duration 10s] [--out FILE|-] [--reference HOST:PORT]

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clockstorm_protocol::{ClockId, DataDevice, ProbeConfig, PROTOCOL_VERSION};

use crate::channel::Channel;
use crate::link::StandaloneLink;

/// How long to wait for the reference server to accept the connection.
pub const REFERENCE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const USAGE: &str = "usage: guest-probe --standalone [--config FILE] [--duration 10s] [--out FILE|-] [--reference HOST:PORT]";

/// Standalone settings from the command line.
#[derive(Debug, PartialEq)]
pub struct Args {
    pub config: Option<String>,
    pub duration_ms: Option<u64>,
    pub out: String,
    pub reference: Option<String>,
}

/// Parses the arguments after the program name. Pure.
pub fn parse_args(args: &[String]) -> Result<Args> {
    let mut parsed = Args { config: None, duration_ms: None, out: "-".into(), reference: None };
    let mut it = args.iter();
    let mut standalone = false;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--standalone" => standalone = true,
            "--config" => parsed.config = Some(value("--config")?),
            "--out" => parsed.out = value("--out")?,
            "--reference" => parsed.reference = Some(value("--reference")?),
            "--duration" => {
                let text = value("--duration")?;
                parsed.duration_ms = Some(parse_duration_ms(&text).with_context(|| format!("--duration {text:?}"))?);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if !standalone {
        bail!("guest-probe runs as /init inside a clockstorm guest, or with --standalone\n{USAGE}");
    }
    Ok(parsed)
}

fn parse_duration_ms(text: &str) -> Result<u64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        bail!("expected a duration such as 10s or 500ms");
    };
    let v: f64 = number.parse().context("expected a number before the unit")?;
    if !(v > 0.0 && v.is_finite()) {
        bail!("must be positive");
    }
    Ok((v * scale) as u64)
}

/// The configuration used when no file is given.
pub fn default_config() -> ProbeConfig {
    ProbeConfig {
        protocol_version: PROTOCOL_VERSION,
        run_id: "standalone".into(),
        expected_clocksource: None,
        duration_ms: 10_000,
        window_ms: 100,
        exchange_interval_ms: 100,
        initial_sync_exchanges: 8,
        gap_event_threshold_ns: 10_000_000,
        burst_after_gap_ns: 50_000_000,
        burst_exchanges: 5,
        clocks: ClockId::ALL.to_vec(),
        tick_rate_hz: clockstorm_protocol::DEFAULT_TICK_RATE_HZ,
        poll_interval_ms: 100,
        forward_kmsg: true,
        benchmark_phase_ms: None,
        data_device: DataDevice::IsaSerial { path: String::new() },
        modules: Vec::new(),
        time_service: None,
        shm_reference: false,
    }
}

pub fn main(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?
        }
        None => default_config(),
    };
    if let Some(ms) = args.duration_ms {
        config.duration_ms = ms;
    }
    let out: Box<dyn std::io::Write + Send> = if args.out == "-" {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::fs::File::create(&args.out).with_context(|| format!("creating {}", args.out))?)
    };
    let reference = match &args.reference {
        Some(addr) => Some(connect(addr)?),
        None => None,
    };
    let mut link = StandaloneLink { out, reference };
    crate::run::mark(&crate::run::CHANNEL_OPEN_NS);
    crate::run::measure(&config, &mut link)
}

fn connect(addr: &str) -> Result<Channel> {
    let target = addr
        .to_socket_addrs()
        .with_context(|| format!("resolving {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolves to nothing"))?;
    let stream =
        TcpStream::connect_timeout(&target, REFERENCE_CONNECT_TIMEOUT).with_context(|| format!("connecting to the reference server at {addr}"))?;
    Ok(Channel::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_parse_and_bad_ones_say_what_is_wrong() {
        let a = parse_args(&args(&["--standalone", "--duration", "2s", "--reference", "127.0.0.1:7000"])).unwrap();
        assert_eq!(a, Args { config: None, duration_ms: Some(2000), out: "-".into(), reference: Some("127.0.0.1:7000".into()) });
        assert!(parse_args(&args(&["--duration", "2s"])).unwrap_err().to_string().contains("--standalone"));
        assert!(parse_args(&args(&["--standalone", "--bogus"])).unwrap_err().to_string().contains("\"--bogus\""));
        assert!(format!("{:#}", parse_args(&args(&["--standalone", "--duration", "2"])).unwrap_err()).contains("10s"));
        assert!(parse_args(&args(&["--standalone", "--out"])).unwrap_err().to_string().contains("needs a value"));
        assert_eq!(default_config().validate(), Ok(()));
    }
}
