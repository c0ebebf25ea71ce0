//! Plot data of one run: the time series and distributions the HTML report
//! draws. Every series is decimated to a fixed number of points, so a
//! report's size does not grow with the length of a run.

use serde::{Deserialize, Serialize};

mod build;
mod decimate;

pub use build::{of_run, SeriesInputs};
pub use decimate::{decimate, quantile_points};

/// Most points kept of a time series (pairs of min/max per bucket).
pub const MAX_POINTS: usize = 1_000;
/// Most points kept of a distribution function.
pub const MAX_CDF_POINTS: usize = 200;

/// What one run's plots need. Times are host seconds since the run's
/// timeline origin (the probe's sync), so faults, offsets and kernel events
/// share one axis.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunSeries {
    pub run_id: String,
    pub clocksource: String,
    /// Offset host - guest CLOCK_REALTIME, in ms, from every exchange after
    /// the sync (a guest that lost time is behind: a positive step).
    pub offset_ms: Vec<Point>,
    /// The probe timer's backlog in ticks (expected from host time - seen).
    pub backlog_ticks: Vec<Point>,
    /// Largest interval between consecutive clock reads in each 100 ms
    /// sampler window, counted into power-of-two bins.
    pub gap_histogram: Vec<Bin>,
    /// Distribution over the timer's 100 ms windows of each window's p99
    /// wake-up latency: (latency in µs, fraction of windows at or below).
    pub latency_p99_cdf: Vec<Point>,
    /// The faults, as host time spans.
    pub faults: Vec<Span>,
    /// Clock and stall events of the guest kernel, at the host time their
    /// first line arrived.
    pub kernel_events: Vec<Mark>,
}

/// One point: x (seconds, or the value of a distribution), y.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Histogram bin [low_ns, high_ns) and how many windows fell in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bin {
    pub low_ns: u64,
    pub high_ns: u64,
    pub count: u64,
}

/// A fault's span on the time axis, in seconds since the origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Span {
    pub index: usize,
    pub kind: clockstorm_protocol::FaultKindName,
    pub start_s: f64,
    pub end_s: f64,
}

/// A kernel event on the time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mark {
    pub t_s: f64,
    /// The event's kind, e.g. "clocksource_unstable".
    pub kind: String,
    pub summary: String,
}
