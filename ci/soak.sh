#!/usr/bin/env bash
# The soak: N real runs (default 100) with random fault kinds and random
# interruptions (SIGINT, SIGTERM, SIGKILL of the harness, SIGKILL of QEMU, a
# guest kernel that panics), counting the QEMUs, cgroups and frozen threads
# left, records that do not parse and completed runs lost from the report.
# Exit 0 when nothing was left; 1 otherwise. Extra arguments go to
# `clockstorm soak` (e.g. --seed 7, --backend fake, --out DIR).
#
#   ci/soak.sh 100            # ~20 min on a 2-core TCG host
#   ci/soak.sh 8 --backend fake
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
shift || true
CLOCKSTORM_PROFILE=dev ci/setup-host.sh >/dev/null
exec target/debug/clockstorm soak "$runs" "$@"
