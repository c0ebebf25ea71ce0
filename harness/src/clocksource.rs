//! The clocksources clockstorm compares: defined in the protocol crate
//! (records, manifests and reports name them too), re-exported here.

pub use clockstorm_protocol::{Clocksource, UnknownClocksource};
