#!/usr/bin/env bash
# Prepares a Debian/Ubuntu host for the test suite, idempotently: what
# running needs (ci/setup-host.sh, with the harness built unoptimized as the
# tests build it), plus what only the tests need:
#   chromium          the test that opens the HTML report in a real headless
#                     browser (on Ubuntu the package installs the snap;
#                     CLOCKSTORM_CHROMIUM can name another browser binary);
#   the CI linters    actionlint, shellcheck, check-jsonschema and
#                     action-validator, for the tests of ci/examples/
#                     (ci/install-linters.sh, into the per-user cache);
#   cargo-nextest     the test runner.
# Needs root for apt-get (run it with sudo otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
CLOCKSTORM_PROFILE=dev CLOCKSTORM_EXTRA_PACKAGES="chromium ${CLOCKSTORM_EXTRA_PACKAGES:-}" ci/setup-host.sh
ci/install-linters.sh >/dev/null
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup-tests: installing cargo-nextest from crates.io"
  cargo install cargo-nextest --locked
fi
