#!/usr/bin/env bash
# Benchmark: round trip of the probe's data channel under the host's
# accelerator, ISA serial against virtio-serial, same guests, same run.
# The round trip bounds every offset measurement (uncertainty = RTT / 2),
# so it decides the default channel. Prints the figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
clockstorm=target/release/clockstorm
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for channel in isa-serial virtio; do
  "$clockstorm" run baseline --clocksource tsc,hpet --duration "$duration" \
    --data-channel "$channel" --out "$out/$channel" >/dev/null 2>&1 || { echo "run on $channel failed: see $out/$channel" >&2; exit 1; }
done
python3 - "$out" <<'PY'
import json, sys, os
root = sys.argv[1]
print(f"{'channel':<11} {'clocksource':<11} {'exchanges':>9} {'RTT median':>11} {'RTT min':>9}")
for channel in ("isa-serial", "virtio"):
    for s in json.load(open(os.path.join(root, channel, "summary.json"))):
        med, low = s["offset_uncertainty_median_ns"], s["offset_uncertainty_min_ns"]
        print(f"{channel:<11} {s['clocksource']:<11} {s['exchanges']:>9} {2*med/1e6:>8.3f} ms {2*low/1e6:>6.3f} ms")
PY
