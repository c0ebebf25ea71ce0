#!/usr/bin/env bash
# Unpacks the distribution's chrony package into the clockstorm cache
# (<cache>/chrony), WITHOUT installing it: the host's own time service is
# left alone. clockstorm runs that chronyd twice per run with a time
# service: on the host as the run's NTP server (`chronyd -x`: it never sets
# the host clock) and in the guest (copied into the initramfs with the
# libraries the host's loader resolves for it). Idempotent: skipped when
# the package's version is already unpacked; CLOCKSTORM_REFETCH=1 unpacks anew.
set -euo pipefail
cache=${CLOCKSTORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clockstorm}
dest=$cache/chrony
version=$(apt-cache policy chrony 2>/dev/null | sed -n 's/^ *Candidate: //p')
if [[ -z $version || $version == "(none)" ]]; then
  echo "fetch-chrony: apt knows no chrony package (run apt-get update, or add the main component)" >&2
  exit 5
fi
if [[ ${CLOCKSTORM_REFETCH:-0} != 1 && -x $dest/usr/sbin/chronyd && $(cat "$dest/.version" 2>/dev/null) == "$version" ]]; then
  exit 0
fi
work=$(mktemp -d -t clockstorm-chrony-XXXXXX)
trap 'rm -rf "$work"' EXIT
# apt drops to _apt for downloads; let it write into the private dir.
chmod 755 "$work"
# Quietly first; on failure again with apt's messages shown.
if ! (cd "$work" && apt-get download -q=2 "chrony=$version" 2>/dev/null); then
  (cd "$work" && apt-get download "chrony=$version")
fi
rm -rf "$dest.new"
dpkg-deb -x "$work"/chrony_*.deb "$dest.new"
echo "$version" >"$dest.new/.version"
# Its shared libraries must be on this host: the guest gets these very files.
if missing=$(ldd "$dest.new/usr/sbin/chronyd" | grep "not found"); then
  echo "fetch-chrony: chronyd needs libraries this host lacks:" >&2
  echo "$missing" >&2
  echo "fetch-chrony: install them (apt-get install $(dpkg-deb -f "$work"/chrony_*.deb Depends | tr -d ' '))" >&2
  exit 5
fi
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "fetch-chrony: chrony $version unpacked into $dest ($("$dest/usr/sbin/chronyd" --version | head -1))"
