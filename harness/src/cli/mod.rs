//! Command-line entry: parse, dispatch, print the error once, exit code.

pub mod args;

use clap::Parser;

use crate::commands;
use crate::exit_code;

/// Runs clockstorm with `argv` and returns the process exit code.
pub fn main_with(argv: Vec<String>) -> u8 {
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit_code::USAGE } else { exit_code::SUCCESS };
        }
    };
    let result = match &cli.command {
        args::Command::Run(run) => commands::run::run(run, &argv, None),
        args::Command::Bench(bench) => commands::run::bench(bench, &argv),
        args::Command::Kernel(k) => commands::kernel::run(k),
        args::Command::Scenario(cmd) => commands::scenarios::run(cmd),
        args::Command::Merge { out, shards } => commands::merge::run(out, shards),
        args::Command::Report { dir, format, baseline } => commands::report::run(dir, *format, baseline.as_deref()),
        args::Command::Events { file, json, all } => commands::events::run(file.as_deref(), *json, *all),
        args::Command::ReferenceServer { listen } => commands::reference_server::run(listen),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clockstorm: error: {e}");
            e.exit_code()
        }
    }
}
