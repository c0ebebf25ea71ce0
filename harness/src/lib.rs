//! clockstorm: boot QEMU/KVM guests per clocksource, disturb them on a
//! timeline, and measure what their clocks do with an in-guest probe.
//!
//! The layers, from the outside in: [`cli`] (argument parsing, exit codes),
//! [`commands`] (one per subcommand), [`runner`] (one guest at a time,
//! records on disk), [`qemu`] (argument builders, process guard),
//! [`initramfs`], [`kernel`], [`scenario`].

pub mod analysis;
pub mod backend;
pub mod backlog;
pub mod build_info;
pub mod cli;
pub mod clocksource;
pub mod commands;
pub mod duration;
pub mod error;
pub mod event_stream;
pub mod exit_code;
pub mod faults;
pub mod fuzzing;
pub mod guardian;
pub mod host;
pub mod initramfs;
pub mod kernel;
pub mod leftovers;
pub mod output;
pub mod plan;
pub mod probe_binary;
pub mod qemu;
pub mod reference_server;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod signals;
pub mod time_service;
