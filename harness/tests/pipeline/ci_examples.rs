//! The CI examples (ci/examples/) as a CI engineer copies them: each passes
//! its real linters (actionlint with shellcheck and action-validator for
//! GitHub Actions, GitLab's own CI schema through check-jsonschema), a
//! broken copy fails them (so the check can fail), the steps that must run
//! after a failure say so, and every clockstorm command in them runs as
//! written on the fake backend: a shard, the merge and the baseline report.
//!
//! The linters come from `ci/install-linters.sh` (the test command runs it);
//! `CLOCKSTORM_LINTERS` names another bin directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/examples")
}

fn linter(name: &str) -> PathBuf {
    let dir = std::env::var_os("CLOCKSTORM_LINTERS").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("CLOCKSTORM_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/clockstorm"));
        cache.join("tools/bin")
    });
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: run ci/install-linters.sh (ci/test.sh does)", path.display());
    path
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn actionlint(file: &Path) -> Output {
    run(Command::new(linter("actionlint")).arg("-shellcheck").arg(linter("shellcheck")).arg("-no-color").arg(file))
}

fn action_validator(file: &Path) -> Output {
    run(Command::new(linter("action-validator")).arg(file))
}

fn gitlab_schema(file: &Path) -> Output {
    run(Command::new(linter("check-jsonschema")).args(["--builtin-schema", "vendor.gitlab-ci"]).arg(file))
}

/// A copy of `example` with `from` replaced by `to`, in `dir`.
fn broken_copy(dir: &Path, example: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(examples().join(example)).unwrap();
    assert!(text.contains(from), "{example} no longer contains {from:?}: update the test");
    let path = dir.join(example);
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn the_github_actions_example_passes_actionlint_and_action_validator() {
    let file = examples().join("github-actions.yml");
    let o = actionlint(&file);
    assert_eq!(o.status.code(), Some(0), "actionlint: {}", text(&o));
    let o = action_validator(&file);
    assert_eq!(o.status.code(), Some(0), "action-validator: {}", text(&o));
    // The linters reject a broken copy: an output of a step that does not exist...
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_copy(dir.path(), "github-actions.yml", "steps.merge.outputs.code", "steps.mege.outputs.code");
    let o = actionlint(&broken);
    assert_ne!(o.status.code(), Some(0), "actionlint took a misspelt step id: {}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mege"), "{}", text(&o));
    // ...a shell error in a run: block (shellcheck, through actionlint)...
    let broken = broken_copy(dir.path(), "github-actions.yml", "[ \"$code\" = 0 ]", "[ \"$code\" = 0 ");
    assert_ne!(actionlint(&broken).status.code(), Some(0), "actionlint took an unclosed [");
    // ...and a key GitHub does not know.
    let broken = broken_copy(dir.path(), "github-actions.yml", "runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04");
    let o = action_validator(&broken);
    assert_ne!(o.status.code(), Some(0), "action-validator took runs_on: {}", text(&o));
}

#[test]
fn the_gitlab_example_passes_gitlabs_schema() {
    let o = gitlab_schema(&examples().join("gitlab-ci.yml"));
    assert_eq!(o.status.code(), Some(0), "check-jsonschema: {}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_copy(dir.path(), "gitlab-ci.yml", "when: always\n  needs:", "when: sometimes\n  needs:");
    let o = gitlab_schema(&broken);
    assert_ne!(o.status.code(), Some(0), "the schema took when: sometimes: {}", text(&o));
}

/// What must run when a shard or the merge failed (exit 1 or 3 is exactly
/// when someone needs the results): every upload and report step in the
/// GitHub example, the artifacts and the merge job in the GitLab one.
#[test]
fn results_are_kept_and_published_after_a_failure() {
    let gh = std::fs::read_to_string(examples().join("github-actions.yml")).unwrap();
    let steps: Vec<&str> = gh.split("\n      - ").skip(1).collect();
    let after_failure = ["upload-artifact", "action-junit-report", "GITHUB_STEP_SUMMARY", "gh pr comment", "--baseline", "Gate"];
    for needle in after_failure {
        let matching: Vec<&&str> = steps.iter().filter(|s| s.contains(needle)).collect();
        assert!(!matching.is_empty(), "no step with {needle:?}");
        for s in matching {
            assert!(s.contains("if: always()"), "the step with {needle:?} does not run after a failure:\n{s}");
        }
    }
    let merge_job = gh.split("\n  merge:\n").nth(1).expect("a merge job");
    assert!(merge_job.lines().take(4).any(|l| l.trim() == "if: always()"), "the merge job must run after a failed shard");
    let gl = std::fs::read_to_string(examples().join("gitlab-ci.yml")).unwrap();
    assert_eq!(gl.matches("artifacts:\n    when: always").count(), 2, "both jobs keep their artifacts on failure");
    assert!(gl.contains("stage: merge\n  when: always"), "the merge job must run after a failed shard");
    assert!(gl.contains("junit: merged/junit.xml"), "JUnit is the pipeline's test report");
}

/// The clockstorm commands of an example (after `target/release/clockstorm`,
/// up to a redirection or the end of the shell command), as argument vectors
/// with the CI variables of shard 1 of 3 put in.
fn commands(example: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(examples().join(example)).unwrap();
    let vars = [("${{ matrix.shard }}", "1"), ("$CI_NODE_INDEX", "1"), ("$CI_NODE_TOTAL", "3")];
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("target/release/clockstorm ").map(|(_, rest)| rest))
        .map(|rest| {
            let mut rest = rest.to_owned();
            for (var, value) in vars {
                rest = rest.replace(var, value);
            }
            let end = rest.find(['>', ';', '|', '&']).unwrap_or(rest.len());
            rest[..end].split_whitespace().map(|w| w.trim_matches('"').to_owned()).collect()
        })
        .collect()
}

/// Runs the example's commands in order in a fresh directory, on the fake
/// backend, as the CI jobs would: the shard, then the merge of what the
/// shards left (the shell's glob), then the report against a baseline (the
/// merged results themselves: nothing may regress against itself).
/// `download`: where the CI system puts a shard's results for the merge job
/// (GitHub's download-artifact: `shards/<artifact name>`).
fn run_example(example: &str, download: Option<&str>) {
    let cmds = commands(example);
    let verbs: Vec<&str> = cmds.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(verbs, ["run", "merge", "report"], "{example}: {cmds:?}");
    let dir = tempfile::tempdir().unwrap();
    let clockstorm = |args: &[String]| {
        let o = run(Command::new(BIN).args(args).current_dir(dir.path()));
        (o.status.code(), text(&o))
    };
    let mut shard = cmds[0].clone();
    shard.extend(FAKE.map(String::from));
    let (code, out) = clockstorm(&shard);
    // The example judges 1 and 3 after the merge.
    assert!(matches!(code, Some(0 | 1 | 3)), "{example}: {shard:?}: {out}");
    if let Some(to) = download {
        let from = &shard[shard.iter().position(|a| a == "--out").unwrap() + 1];
        std::fs::create_dir_all(dir.path().join(to).parent().unwrap()).unwrap();
        std::fs::rename(dir.path().join(from), dir.path().join(to)).unwrap();
    }
    let mut merge = cmds[1].clone();
    let glob = merge.pop().unwrap();
    let (parent, prefix) = glob.trim_end_matches('*').rsplit_once('/').unwrap();
    let shards: Vec<String> = std::fs::read_dir(dir.path().join(parent))
        .unwrap_or_else(|e| panic!("{example}: the shard left no {parent}/ for {glob}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix))
        .map(|name| format!("{parent}/{name}"))
        .collect();
    assert_eq!(shards.len(), 1, "{example}: {glob} matched {shards:?}");
    merge.extend(shards);
    let (code, out) = clockstorm(&merge);
    assert!(matches!(code, Some(0 | 1 | 3)), "{example}: {merge:?}: {out}");
    let merged = dir.path().join(&merge[merge.iter().position(|a| a == "--out").unwrap() + 1]);
    for file in ["report.md", "junit.xml", "report.json"] {
        assert!(merged.join(file).exists(), "{example}: the merge wrote no {file}, which the example publishes");
    }
    let report = &cmds[2];
    let baseline = dir.path().join(&report[report.iter().position(|a| a == "--baseline").unwrap() + 1]);
    std::fs::create_dir_all(baseline.parent().unwrap()).unwrap();
    let o = run(Command::new("cp").arg("-r").arg(&merged).arg(&baseline));
    assert!(o.status.success(), "{}", text(&o));
    let (code, out) = clockstorm(report);
    assert_eq!(code, Some(0), "{example}: {report:?}: {out}");
    assert!(out.contains("clockstorm"), "{example}: the baseline report is Markdown: {out}");
}

#[test]
fn the_github_actions_commands_run_as_written() {
    run_example("github-actions.yml", Some("shards/clockstorm-shard-1"));
}

#[test]
fn the_gitlab_commands_run_as_written() {
    run_example("gitlab-ci.yml", None);
}

/// The project's own scripts (what a fresh machine runs first) pass
/// ShellCheck, and a broken copy does not.
#[test]
fn the_ci_scripts_pass_shellcheck() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root.join("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    scripts.push(root.join(".ci/run"));
    assert!(scripts.len() >= 8, "{scripts:?}");
    let o = run(Command::new(linter("shellcheck")).args(&scripts));
    assert_eq!(o.status.code(), Some(0), "shellcheck: {}", text(&o));
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("test.sh");
    let text_of = std::fs::read_to_string(root.join("ci/test.sh")).unwrap();
    std::fs::write(&broken, text_of.replacen("cd \"$(dirname \"$0\")/..\"", "cd $(dirname $0)/..", 1)).unwrap();
    assert_ne!(run(Command::new(linter("shellcheck")).arg(&broken)).status.code(), Some(0), "shellcheck took unquoted expansions");
}
