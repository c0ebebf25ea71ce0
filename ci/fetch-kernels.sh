#!/usr/bin/env bash
# Fills the kernel cache with Debian's cloud kernels of three generations —
# bullseye 5.10, bookworm 6.1 (the default) and trixie 6.12 — for kernel
# matrices (the shipped kernel-ci scenario). Uses apt with a private sources
# list and state directory: the host's apt configuration is left alone.
# Already cached suites are skipped; CLOCKSTORM_REFETCH=1 fetches anew.
set -euo pipefail
cd "$(dirname "$0")/.."
clockstorm=${CLOCKSTORM_BIN:-target/release/clockstorm}
cached=$("$clockstorm" kernel list)
for suite in bookworm bullseye trixie; do
  if [[ ${CLOCKSTORM_REFETCH:-0} == 1 ]] || ! grep -q "^debian-$suite-cloud-amd64 " <<<"$cached"; then
    "$clockstorm" kernel fetch --suite "$suite"
  fi
done
