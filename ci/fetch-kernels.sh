#!/usr/bin/env bash
# Fills the kernel cache with Debian's cloud kernels of four generations —
# bullseye 5.10, bookworm 6.1 (the default), trixie 6.12 and the newest
# stable 7.x (trixie-backports, Debian's new linux-binary packaging) — for
# kernel matrices (the shipped kernel-ci scenario) and the 7.x guest test.
# A release candidate (experimental) or the rt flavour is opt-in:
#   clockstorm kernel fetch --suite experimental [--flavour rt] Uses apt with a private sources
# list and state directory: the host's apt configuration is left alone.
# Already cached suites are skipped (unless cached without the network
# modules); CLOCKSTORM_REFETCH=1 fetches anew.
set -euo pipefail
cd "$(dirname "$0")/.."
clockstorm=${CLOCKSTORM_BIN:-target/release/clockstorm}
# One line per cached entry (the JSON list flattened, an entry per line).
cached=$("$clockstorm" kernel list --format json | tr -d ' \n' | sed 's/},{/}\n{/g')
for suite in bookworm bullseye trixie trixie-backports; do
  entry=$(grep "\"name\":\"debian-$suite-cloud-amd64\"" <<<"$cached" || true)
  # An entry fetched before the cache kept the guest network's modules
  # (for a time service in the guest) is fetched anew.
  if [[ ${CLOCKSTORM_REFETCH:-0} == 1 || -z $entry ]]; then
    "$clockstorm" kernel fetch --suite "$suite"
  elif ! grep -q '"network_modules":true' <<<"$entry"; then
    echo "fetch-kernels: debian-$suite-cloud-amd64 was cached without the network modules: fetching it anew"
    "$clockstorm" kernel fetch --suite "$suite"
  fi
done
