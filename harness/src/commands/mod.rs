//! One module per subcommand: each turns raw arguments into a validated
//! plan, runs it, and returns the documented exit code.

pub mod events;
pub mod kernel;
pub mod merge;
pub mod reference_server;
pub mod report;
pub mod run;
pub mod scenarios;
mod time_text;
