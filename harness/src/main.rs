//! The `clockstorm` binary: everything lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(clockstorm::commands::main_with(std::env::args().collect()))
}
