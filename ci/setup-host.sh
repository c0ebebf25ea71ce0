#!/usr/bin/env bash
# Prepares a Debian/Ubuntu host for running clockstorm, idempotently:
#   1. installs QEMU and the few packages the build and the kernel fetch need;
#   2. builds the harness and the static guest probe (ci/build.sh);
#   3. fetches Debian's cloud kernels (bookworm 6.1, the default; bullseye
#      5.10 and trixie 6.12 for kernel matrices) into the per-user cache
#      unless cached already (CLOCKSTORM_REFETCH=1 fetches anew).
# Needs root for apt-get (run it with sudo otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

# What running needs, nothing more (the test command adds what the tests
# need: ci/setup-tests.sh). qemu-system-x86: the guests.
# debian-archive-keyring: verifies the kernel package (also on Ubuntu).
# libc6-dev + gcc: the static glibc probe. dpkg-deb (in dpkg) unpacks the
# kernel package. CLOCKSTORM_EXTRA_PACKAGES: more, from ci/setup-tests.sh.
packages=(qemu-system-x86 debian-archive-keyring libc6-dev gcc)
read -r -a extra <<<"${CLOCKSTORM_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup-host: need root to install ${missing[*]} (run: sudo $0)" >&2
    exit 5
  fi
  echo "setup-host: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup-host: cargo not found: install a Rust toolchain (rustup, Rust >= 1.85; the tests need >= 1.88) and run again" >&2
  exit 5
fi

ci/build.sh
if [[ ${CLOCKSTORM_PROFILE:-release} == dev ]]; then
  export CLOCKSTORM_BIN=target/debug/clockstorm
fi

# The default guest kernel (bookworm's 6.1) first, then 5.10 and 6.12 for
# kernel matrices.
ci/fetch-kernels.sh
# chrony, unpacked (not installed) into the cache, for scenarios with a
# time service in the guest; a host that cannot get it still runs the rest.
ci/fetch-chrony.sh || echo "setup-host: warning: chrony could not be unpacked; scenarios with [guest] time_service will say so" >&2
"${CLOCKSTORM_BIN:-target/release/clockstorm}" kernel list
