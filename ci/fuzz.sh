#!/usr/bin/env bash
# Fuzzes every input a user or a guest can feed (docs/fuzzing.md): each
# cargo-fuzz target in turn for SECONDS (default 60), growing its corpus in
# fuzz/corpus/<target>/. Not part of ci/test.sh: CI replays the kept corpus
# and regressions on stable instead (harness/tests/fuzz_corpus.rs).
#
#   ci/fuzz.sh [SECONDS] [TARGET...]
#
# A failing input lands in fuzz/artifacts/<target>/; fix it, then keep it in
# fuzz/regressions/<target>/ so the replay test holds the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain (cargo-fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
# No sanitizer: the code under test is safe Rust, and ASan would halve the
# executions. Overflow checks and debug assertions stay on (cargo-fuzz's
# default). Inputs up to 64 KiB, and a 10 s timeout per input: a parser that
# takes that long on 64 KiB is superlinear.
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${seconds} s"
  set +e
  cargo +nightly fuzz run -s none "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
    grep -E '^(stat::|==|SUMMARY|Done|error)|panicked|Test unit written'
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t failed (exit $status); a failing input, if one was found, is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
