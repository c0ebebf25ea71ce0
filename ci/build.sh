#!/usr/bin/env bash
# Builds the harness and the static guest probe.
#
# CLOCKSTORM_PROFILE=dev builds the harness unoptimized, as the test suite
# does (ci/test.sh): the tests then reuse its compiled dependencies instead
# of waiting for a second, optimized build (3 min 20 s of a 19 min CI run on
# a 2-core machine). The default is an optimized harness (ci/main.sh).
#
# The probe is built for an explicit target triple so that crt-static applies
# to it alone (with --target, RUSTFLAGS do not reach build scripts and
# proc-macros, which cannot be static). It is always optimized: it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${CLOCKSTORM_PROFILE:-release} in
  release) cargo build --release -p clockstorm; harness=target/release/clockstorm ;;
  dev) cargo build -p clockstorm; harness=target/debug/clockstorm ;;
  *) echo "build: CLOCKSTORM_PROFILE must be release or dev, not ${CLOCKSTORM_PROFILE}" >&2; exit 2 ;;
esac
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --profile probe -p guest-probe --target x86_64-unknown-linux-gnu
echo "built: $harness target/x86_64-unknown-linux-gnu/probe/guest-probe"
