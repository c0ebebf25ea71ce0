//! Pure parsers for the procfs files the probe samples: `/proc/interrupts`,
//! `/proc/stat` and `/proc/timer_list`.
//!
//! The parsers take the file's text (the caller reads it, typically into a
//! reused `String`) and never panic: malformed input gives `None` or skips
//! the offending line. `timer_list::read_snapshot` is the one reader here,
//! because that file is worth reading only partially.

// A small library API inside a binary crate: the probe uses only part of it
// so far, and unused `pub` items would otherwise warn.
#![allow(dead_code)]

pub mod interrupts;
pub mod stat;
pub mod timer_list;
