//! Pure statistics and renderers over clockstorm run records. No OS code:
//! everything here takes parsed records and returns numbers or text.

#![forbid(unsafe_code)]

pub mod backsteps;
pub mod bench;
pub mod channel;
pub mod correction;
pub mod csv;
pub mod decision;
pub mod drift;
pub mod faults;
pub mod format;
pub mod gates;
pub mod html;
pub mod junit;
pub mod kernel_events;
pub mod kernel_rules;
pub mod liveness;
pub mod markdown;
pub mod model;
pub mod predict;
pub mod reference;
pub mod series;
pub mod standalone;
pub mod stats;
pub mod summary;
pub mod terminal;
pub mod ticks;
pub mod timebase;

pub use summary::{summarize, RunSummary};

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod renderer_tests;
