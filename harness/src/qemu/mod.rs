//! Everything about QEMU: accelerator choice, the command line, the process guard.

pub mod accel;
pub mod args;
pub mod guard;
pub mod qmp;
