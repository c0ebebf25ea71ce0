//! clockstorm harness
