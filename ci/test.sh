#!/usr/bin/env bash
# The README's test command: set up the host, then run the whole test suite,
# including the end-to-end tests that boot real guests under QEMU.
# Guests measure timing, so tests run one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
# The harness unoptimized, as the tests build it (see ci/build.sh).
CLOCKSTORM_PROFILE=dev ci/setup-host.sh
cargo test --workspace -- --test-threads=1
