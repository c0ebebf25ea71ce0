//! QMP wire messages: classifying one received line, and the typed values
//! the client hands out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::QmpError;

/// How much of an offending line goes into a [`QmpError::Protocol`]; enough
/// to recognise it, short enough to keep a log line a line.
const LINE_EXCERPT_BYTES: usize = 300;

/// An asynchronous QMP event, e.g. `STOP`, `RESUME`, `SHUTDOWN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QmpEvent {
    /// The event name as QEMU spells it (`"STOP"`).
    pub name: String,
    /// When QEMU emitted the event: host `CLOCK_REALTIME` in microseconds
    /// since the Unix epoch (QEMU's `g_get_real_time()`, split by QEMU into
    /// `timestamp.seconds` / `timestamp.microseconds`).
    pub timestamp_us: i64,
    /// The event's `data` member; `Value::Null` when QEMU sent none (as for
    /// `STOP` and `RESUME`).
    pub data: Value,
}

/// One vCPU and the host thread that runs it, from `query-cpus-fast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuThread {
    /// QEMU's `cpu-index` (0-based).
    pub cpu_index: u32,
    /// QEMU's `thread-id`: the host TID (a `/proc/<pid>/task/<tid>` entry).
    pub thread_id: u32,
}

/// One line from QEMU, classified.
#[derive(Debug)]
pub enum Message {
    /// `{"QMP": {...}}`, sent once on connect.
    Greeting(Value),
    /// `{"return": ..., "id": ...}`.
    Return { id: Option<Value>, value: Value },
    /// `{"error": {"class": .., "desc": ..}, "id": ...}`.
    Error { id: Option<Value>, class: String, desc: String },
    /// `{"event": .., "timestamp": {..}, "data": {..}}`.
    Event(QmpEvent),
}

/// Shortens `text` for an error message, on a char boundary.
pub(super) fn excerpt(text: &str) -> String {
    if text.len() <= LINE_EXCERPT_BYTES {
        return text.to_string();
    }
    let mut end = LINE_EXCERPT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

fn protocol(what: &str, problem: &str, line: &str) -> QmpError {
    QmpError::Protocol { what: format!("{what}: {problem}"), line: excerpt(line) }
}

/// Parses one line (without its terminator) received during `what`. Public
/// for the fuzz targets (`clockstorm::fuzzing`); the client is its one user.
pub fn parse_line(line: &str, what: &str) -> Result<Message, QmpError> {
    let value: Value = serde_json::from_str(line).map_err(|e| protocol(what, &format!("not JSON ({e})"), line))?;
    let Value::Object(mut obj) = value else {
        return Err(protocol(what, "not a JSON object", line));
    };
    if let Some(greeting) = obj.remove("QMP") {
        return Ok(Message::Greeting(greeting));
    }
    if let Some(name) = obj.get("event") {
        let name = name.as_str().ok_or_else(|| protocol(what, "event name is not a string", line))?.to_string();
        let ts = obj.get("timestamp").ok_or_else(|| protocol(what, "event without timestamp", line))?;
        let seconds = ts.get("seconds").and_then(Value::as_i64);
        let micros = ts.get("microseconds").and_then(Value::as_i64);
        let (Some(seconds), Some(micros)) = (seconds, micros) else {
            return Err(protocol(what, "event timestamp lacks integer seconds/microseconds", line));
        };
        // Checked: a timestamp far outside i64 µs is a bad line, not an overflow.
        let Some(timestamp_us) = seconds.checked_mul(1_000_000).and_then(|us| us.checked_add(micros)) else {
            return Err(protocol(what, "event timestamp out of range", line));
        };
        let data = obj.remove("data").unwrap_or(Value::Null);
        return Ok(Message::Event(QmpEvent { name, timestamp_us, data }));
    }
    let id = obj.remove("id");
    if let Some(value) = obj.remove("return") {
        return Ok(Message::Return { id, value });
    }
    if let Some(err) = obj.remove("error") {
        let field = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(class), Some(desc)) = (field("class"), field("desc")) else {
            return Err(protocol(what, "error reply lacks class/desc strings", line));
        };
        return Ok(Message::Error { id, class, desc });
    }
    Err(protocol(what, "neither greeting, event, return nor error", line))
}

/// What the client keeps of QEMU's greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// `(major, minor, micro)`.
    pub version: (u64, u64, u64),
    /// The distribution build, trimmed; empty for upstream builds.
    pub package: String,
    pub capabilities: Vec<String>,
}

/// Reads the `QMP` member of the greeting: `{"version": {"qemu": {"major":
/// .., "minor": .., "micro": ..}, "package": ..}, "capabilities": [..]}`.
pub fn parse_greeting(greeting: &Value) -> Result<Greeting, QmpError> {
    let qemu = &greeting["version"]["qemu"];
    let num = |k: &str| qemu.get(k).and_then(Value::as_u64);
    let (Some(major), Some(minor), Some(micro)) = (num("major"), num("minor"), num("micro")) else {
        return Err(QmpError::Protocol { what: "QMP greeting: no version.qemu.major/minor/micro".into(), line: excerpt(&greeting.to_string()) });
    };
    Ok(Greeting {
        version: (major, minor, micro),
        package: greeting["version"]["package"].as_str().unwrap_or_default().trim().to_string(),
        capabilities: greeting["capabilities"]
            .as_array()
            .map(|caps| caps.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

/// Reads a `query-cpus-fast` return value (QEMU 7.2: an array of objects with
/// `cpu-index`, `thread-id`, `qom-path`, `target`, `props`).
pub fn parse_cpus_fast(value: &Value) -> Result<Vec<VcpuThread>, QmpError> {
    let bad = |problem: &str| QmpError::Protocol { what: format!("query-cpus-fast reply: {problem}"), line: excerpt(&value.to_string()) };
    let cpus = value.as_array().ok_or_else(|| bad("not an array"))?;
    cpus.iter()
        .map(|cpu| {
            let num = |k: &str| cpu.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
            match (num("cpu-index"), num("thread-id")) {
                (Some(cpu_index), Some(thread_id)) => Ok(VcpuThread { cpu_index, thread_id }),
                _ => Err(bad("entry lacks a u32 cpu-index/thread-id")),
            }
        })
        .collect()
}

/// Reads a `query-status` return value: `(status, running)`.
pub fn parse_status(value: &Value) -> Result<(String, bool), QmpError> {
    let status = value.get("status").and_then(Value::as_str);
    let running = value.get("running").and_then(Value::as_bool);
    match (status, running) {
        (Some(status), Some(running)) => Ok((status.to_string(), running)),
        _ => Err(QmpError::Protocol { what: "query-status reply lacks status/running".into(), line: excerpt(&value.to_string()) }),
    }
}
