//! Everything about QEMU: accelerator choice, the command line, QMP, the
//! timer hardware. (The process guard is the backends' own: backend::process.)

pub mod accel;
pub mod args;
pub mod qmp;
pub mod timers;
