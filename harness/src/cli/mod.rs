//! The command line as clap parses it ([`args`]); nothing here acts on it:
//! [`crate::commands::main_with`] dispatches.

pub mod args;
