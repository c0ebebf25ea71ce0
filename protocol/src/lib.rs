//! The one set of types the harness and the guest probe both compile.
//!
//! Messages travel as JSON Lines over the probe's data channel (one message
//! per `\n`-terminated line). The probe's first message is [`Hello`], which
//! carries [`PROTOCOL_VERSION`]; the harness refuses to talk to a probe that
//! speaks another version (see [`check_hello_version`]), because a silent
//! misparse would turn into wrong numbers.

#![forbid(unsafe_code)]

mod accel;
mod clock_profile;
mod clocksource;
mod config;
mod fault_kind;
pub mod histogram;
mod manifest;
mod messages;
mod record;
pub mod shm;

pub use accel::*;
pub use clock_profile::*;
pub use clocksource::*;
pub use config::*;
pub use fault_kind::*;
pub use manifest::*;
pub use messages::*;
pub use record::*;

/// Version of the probe <-> harness protocol. Bump on any incompatible change
/// to [`GuestMessage`], [`HostMessage`] or [`ProbeConfig`].
pub const PROTOCOL_VERSION: u32 = 3;

/// Where the probe finds its configuration inside the initramfs.
pub const CONFIG_PATH_IN_GUEST: &str = "/clockstorm/config.json";

/// Console line the probe prints when it finished its run normally.
pub const SENTINEL_SUCCESS: &str = "clockstorm-probe: done: success";
/// Prefix of the console line the probe prints when it gives up; the reason follows.
pub const SENTINEL_FAILURE_PREFIX: &str = "clockstorm-probe: done: failure: ";

/// Errors decoding a line from the data channel.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("probe speaks protocol version {probe}, harness speaks {harness}: rebuild the guest probe from this checkout")]
    VersionMismatch { probe: u32, harness: u32 },
    #[error("first message from the probe is not a hello: {0:?}")]
    NotHello(String),
    #[error("malformed message {line:?}: {source}")]
    Malformed {
        line: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Decodes one line sent by the guest.
pub fn decode_guest(line: &str) -> Result<GuestMessage, DecodeError> {
    serde_json::from_str(line).map_err(|source| DecodeError::Malformed { line: line.to_owned(), source })
}

/// Decodes one line sent by the host.
pub fn decode_host(line: &str) -> Result<HostMessage, DecodeError> {
    serde_json::from_str(line).map_err(|source| DecodeError::Malformed { line: line.to_owned(), source })
}

/// Encodes a message as one line, newline included.
pub fn encode_line<T: serde::Serialize>(msg: &T) -> String {
    let mut s = serde_json::to_string(msg).expect("protocol types always serialize");
    s.push('\n');
    s
}

/// Checks the version of the probe's first line *before* decoding it fully, so
/// that a probe of another version gets a version error rather than a parse
/// error about some field.
pub fn check_hello_version(line: &str) -> Result<Hello, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|source| DecodeError::Malformed { line: line.to_owned(), source })?;
    if value.get("type").and_then(|t| t.as_str()) != Some("hello") {
        return Err(DecodeError::NotHello(line.to_owned()));
    }
    let probe = value.get("protocol_version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
    if probe != PROTOCOL_VERSION {
        return Err(DecodeError::VersionMismatch { probe, harness: PROTOCOL_VERSION });
    }
    match decode_guest(line)? {
        GuestMessage::Hello(h) => Ok(h),
        _ => Err(DecodeError::NotHello(line.to_owned())),
    }
}

#[cfg(test)]
mod tests;
