#!/usr/bin/env bash
# Builds the harness and the static guest probe.
#
# The probe is built for an explicit target triple so that crt-static applies
# to it alone (with --target, RUSTFLAGS do not reach build scripts and
# proc-macros, which cannot be static).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p clockstorm
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --profile probe -p guest-probe --target x86_64-unknown-linux-gnu
echo "built: target/release/clockstorm target/x86_64-unknown-linux-gnu/probe/guest-probe"
