#!/bin/bash
# On the GPU host, from the repository root (session 23): an idle sidecar's RSS after its
# exports on the GPU writer (the sidecar gives the memory its exports freed back to the
# system once the last one ends): wide 10M, two requests (P=16), then VmRSS and VmHWM at once
# and 5 s later; and a fresh sidecar's RSS before any export.
#   KIT (default .gpuhost/s23h, carried): base files and pgparquet-c.xz (HEAD's binary).
set -uo pipefail
K=${KIT:-.gpuhost/s23h}; O=${OUT:-/tmp/s23h-out}
source bench/gpuhost-prelude.sh
gpuhost_start s23h wide
source bench/gpuhost-sidecar.sh
sidecar_start "$K/pgparquet-c" wide || exit 1
grep -E "VmRSS" "/proc/$SC/status" | sed 's/^/after the warm-up request: /'
for r in 1 2; do sidecar_request wide "wide request $r"; done
for t in 0 5; do sleep $t; echo "idle +${t}s: $(grep -E 'VmRSS|VmHWM' /proc/$SC/status | tr -s ' \t' ' ' | tr '\n' ' ')"; done
sidecar_stop
echo "total: $SECONDS s"
