//! One module per subcommand: each turns raw arguments into a validated
//! plan, runs it, and returns the documented exit code.

pub mod characterize;
pub mod completions;
pub mod events;
pub mod import_standalone;
pub mod kernel;
pub mod merge;
pub mod reference_server;
pub mod report;
pub mod run;
pub mod scenarios;
pub mod soak;
mod time_text;

use clap::Parser;

use crate::cli::args;
use crate::exit_code;

/// Commands that only print (lists, reports, completions): `clockstorm
/// kernel list | head` should end quietly, as any Unix tool does, not panic
/// on the closed pipe. Not the commands that run guests or servers: their
/// sockets must see EPIPE as an error, and their measurements be kept.
fn writes_only_output(command: &args::Command) -> bool {
    matches!(
        command,
        args::Command::Kernel(args::KernelCommand::List { .. })
            | args::Command::Scenario(_)
            | args::Command::Report { .. }
            | args::Command::Events { .. }
            | args::Command::Completions { .. }
            | args::Command::Man { .. }
    )
}

/// Back to the default action for SIGPIPE (Rust's runtime ignores it).
fn restore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler
    // and touches no memory; done before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs clockstorm with `argv` and returns the process exit code.
pub fn main_with(argv: Vec<String>) -> u8 {
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit_code::USAGE } else { exit_code::SUCCESS };
        }
    };
    crate::output::set_verbosity(crate::output::verbosity_of(cli.quiet, cli.verbose));
    if writes_only_output(&cli.command) {
        restore_sigpipe();
    }
    let result = match &cli.command {
        args::Command::Run(run) => run::run(run, &argv, None),
        args::Command::Bench(bench) => run::bench(bench, &argv),
        args::Command::Kernel(k) => kernel::run(k),
        args::Command::Characterize(c) => characterize::run(c, &argv),
        args::Command::Scenario(cmd) => scenarios::run(cmd),
        args::Command::Merge { out, shards, refuse_mixed_builds } => merge::run(out, shards, *refuse_mixed_builds),
        args::Command::Report { dir, format, baseline } => report::run(dir, *format, baseline.as_deref()),
        args::Command::Events { file, format, json, all } => {
            if *json {
                crate::output::warn("--json is deprecated: use --format json");
            }
            events::run(file.as_deref(), *json || *format == args::ListFormat::Json, *all)
        }
        args::Command::Completions { shell } => completions::completions(*shell),
        args::Command::Man { dir } => completions::man(dir.as_deref()),
        args::Command::ReferenceServer { listen } => reference_server::run(listen),
        args::Command::ImportStandalone { files, out, machine, reference_host, reference_here } => import_standalone::run(
            &import_standalone::ImportArgs {
                files,
                out,
                machine: machine.as_deref(),
                reference_host: reference_host.as_deref(),
                reference_here: *reference_here,
            },
            &argv,
        ),
        args::Command::FakeGuest(fake) => Ok(crate::backend::fake_guest::run(fake)),
        args::Command::Soak(soak) => soak::run(soak),
        args::Command::Guardian { harness_pid, log } => Ok(crate::guardian::run(*harness_pid, log.as_deref())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clockstorm: error: {e}");
            e.exit_code()
        }
    }
}
