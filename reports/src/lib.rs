//! Pure statistics and renderers over clockstorm run records. No OS code:
//! everything here takes parsed records and returns numbers or text.

pub mod bench;
pub mod drift;
pub mod faults;
pub mod format;
pub mod gates;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod predict;
pub mod series;
pub mod stats;
pub mod kernel_events;
pub mod liveness;
pub mod summary;
pub mod terminal;
pub mod ticks;
pub mod timebase;

pub use summary::{summarize, RunSummary};

#[cfg(test)]
mod renderer_tests;
#[cfg(test)]
pub(crate) mod fixtures;
