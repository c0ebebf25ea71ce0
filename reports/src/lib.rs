//! Pure statistics and renderers over clockstorm run records. No OS code:
//! everything here takes parsed records and returns numbers or text.

pub mod bench;
pub mod faults;
pub mod format;
pub mod gates;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod predict;
pub mod stats;
pub mod kernel_events;
pub mod summary;
pub mod terminal;
pub mod ticks;
pub mod timebase;

pub use summary::{summarize, RunSummary};

#[cfg(test)]
mod renderer_tests;
