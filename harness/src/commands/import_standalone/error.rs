//! What is wrong with a file given to `import-standalone`, naming it and the line.

/// A probe output that cannot be imported. Every variant names the file
/// (as the user gave it) and, where one is to blame, the line (from 1).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read it: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: empty: not a `guest-probe --standalone` output (it starts with the probe's hello)")]
    Empty { file: String },
    #[error("{file}:{line}: not a `guest-probe --standalone` output: its first message is not the probe's hello")]
    NotProbeOutput { file: String, line: usize },
    #[error("{file}:{line}: {message}")]
    Version { file: String, line: usize, message: String },
    #[error("{file}:{line}: not a probe message: {message}")]
    Malformed { file: String, line: usize, message: String },
    #[error(
        "{file}: the machine ran on clocksource {name:?}, which clockstorm does not compare (expected one of {}); the probe output is kept as it is",
        clockstorm_protocol::Clocksource::allowed_names()
    )]
    Clocksource { file: String, name: String },
}
