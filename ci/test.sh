#!/usr/bin/env bash
# The README's test command: set up the host, then run the whole test suite,
# including the end-to-end tests that boot real guests under QEMU.
#
# Two stages (the policy is in .config/nextest.toml): everything that does
# not boot a real guest (unit tests, snapshots, the pipeline on the fake
# backend, bad input) in parallel; then the real guests, one at a time with
# nothing beside them, since they measure timing. Each stage prints its time.
set -euo pipefail
cd "$(dirname "$0")/.."
# What running needs plus what only the tests need (browser, linters, nextest).
ci/setup-tests.sh
cargo nextest run --workspace --no-run
t0=$(date +%s)
# The doc tests beside the parallel stage, which waits on fake guests in
# real time more than it computes. They start once nextest's own build (a
# no-op after --no-run above) has let go of cargo's lock; should it still
# hold it, cargo waits. Their output follows the stage's.
doc_log=$(mktemp -t clockstorm-doctests-XXXXXX)
trap 'rm -f "$doc_log"' EXIT
cargo nextest run --workspace -E 'not binary(guests)' &
parallel_pid=$!
sleep 5
doc=0
cargo test --workspace --doc >"$doc_log" 2>&1 || doc=$?
parallel=0
wait "$parallel_pid" || parallel=$?
cat "$doc_log"
if ((parallel || doc)); then
  echo "test: parallel stage exit $parallel, doc tests exit $doc" >&2
  exit 1
fi
t1=$(date +%s)
cargo nextest run -p clockstorm --test guests -j 1
t2=$(date +%s)
echo "test: parallel stage $((t1 - t0)) s, real guests $((t2 - t1)) s, all tests $((t2 - t0)) s"
