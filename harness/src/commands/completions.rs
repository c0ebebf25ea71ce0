//! `clockstorm completions SHELL` and `clockstorm man`: both made from the
//! one clap definition of the command line (`cli::args`), so they cannot
//! drift from it. The man page is a hidden subcommand rather than a file
//! kept in docs/: it names the build (`--version`), which changes with
//! every commit, and a packager or user makes it from the binary they have
//! (`clockstorm man > clockstorm.1`).

use std::path::Path;

use clap::CommandFactory;

use crate::cli::args::Cli;
use crate::error::Error;
use crate::exit_code;

/// The command line without its hidden subcommands (the testing aids and
/// internals: clap_complete would offer them too).
fn public_command() -> clap::Command {
    let full = Cli::command();
    let mut public = clap::Command::new("clockstorm").version(crate::build_info::VERSION).args(full.get_arguments().cloned());
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        public = public.subcommand(sub.clone());
    }
    public
}

/// The completion script for `shell`, as text. Pure.
pub fn completion_script(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut public_command(), "clockstorm", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn completions(shell: clap_complete::Shell) -> Result<u8, Error> {
    print!("{}", completion_script(shell));
    Ok(exit_code::SUCCESS)
}

/// The man page of `clockstorm` (roff). Pure.
pub fn man_page() -> String {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).expect("rendering into memory does not fail");
    String::from_utf8_lossy(&out).into_owned()
}

/// `clockstorm man`: the page on stdout, or every page into `dir`.
pub fn man(dir: Option<&Path>) -> Result<u8, Error> {
    match dir {
        None => print!("{}", man_page()),
        Some(dir) => {
            let bad = |source| Error::OutputNotWritable { path: dir.to_owned(), source };
            std::fs::create_dir_all(dir).map_err(bad)?;
            clap_mangen::generate_to(Cli::command(), dir).map_err(bad)?;
        }
    }
    Ok(exit_code::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// What `clockstorm ARGS` prints for help (the long help of `--help`).
    fn help(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).expect_err("--help ends parsing");
        assert!(!e.use_stderr(), "help goes to stdout");
        e.render().to_string()
    }

    #[test]
    fn help_of_the_main_commands() {
        insta::assert_snapshot!("help", help(&["clockstorm", "--help"]));
        for cmd in ["run", "report", "merge", "events"] {
            insta::assert_snapshot!(format!("help_{cmd}"), help(&["clockstorm", cmd, "--help"]));
        }
        insta::assert_snapshot!("help_scenario_show", help(&["clockstorm", "scenario", "show", "--help"]));
        insta::assert_snapshot!("help_kernel_list", help(&["clockstorm", "kernel", "list", "--help"]));
    }

    #[test]
    fn bash_completion() {
        let script = completion_script(clap_complete::Shell::Bash);
        assert!(script.contains("--no-faults") && script.contains("completions"), "made from the same definition");
        assert!(!script.contains("fake-guest") && !script.contains("guardian"), "hidden subcommands are not offered");
        insta::assert_snapshot!(script);
    }

    #[test]
    fn the_man_page_is_made_from_the_same_definition() {
        let page = man_page();
        assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH clockstorm"), "{}", &page[..200.min(page.len())]);
        assert!(page.contains(".TH clockstorm"), "roff with a title");
        assert!(page.contains(crate::build_info::VERSION), "names the build");
        for cmd in ["run", "report", "merge", "completions"] {
            assert!(page.contains(&format!("clockstorm\\-{cmd}")) || page.contains(cmd), "{cmd}");
        }
        let dir = tempfile::tempdir().unwrap();
        man(Some(dir.path())).unwrap();
        for page in ["clockstorm.1", "clockstorm-run.1", "clockstorm-merge.1"] {
            assert!(dir.path().join(page).is_file(), "{page}");
        }
    }
}
