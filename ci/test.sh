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
cargo nextest run --workspace -E 'not binary(guests)'
cargo test --workspace --doc
t1=$(date +%s)
cargo nextest run -p clockstorm --test guests -j 1
t2=$(date +%s)
echo "test: parallel stage $((t1 - t0)) s, real guests $((t2 - t1)) s, all tests $((t2 - t0)) s"
