#!/usr/bin/env bash
# The README's main command: set up the host, then compare clocksources on
# the default scenario. Extra arguments go to `clockstorm run`
# (e.g. `ci/main.sh --duration 20s`, `ci/main.sh path/to/scenario.toml`).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/setup-host.sh
exec target/release/clockstorm run "$@"
