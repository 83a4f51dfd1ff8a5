#!/bin/bash
# On the GPU host, from the repository root (session 22): when a CLI export's GPU is ready,
# against when its COPYs start. Lineorder 40M and wide 10M, P=16, zstd, two CLI exports each on
# the GPU writer; each log line's message printed with its time from the launch (wall clock of
# this host), and the result's timings.
#   KIT (default .gpuhost/s22c, carried): base files and pgparquet.xz. NAME (log name, default
#   s22h), TABLES (default "lineorder wide"). s22i: NAME=s22i TABLES=wide, with the probe's
#   step times in the "decoding on the GPU" line.
# It ran with an inline copy of bench/gpuhost-timeline.py (which cuts the fields at 200
# characters, the copy at 220).
set -uo pipefail
K=${KIT:-.gpuhost/s22c}; O=${OUT:-/tmp/s22h-out}; N=${NAME:-s22h}; T=${TABLES:-lineorder wide}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
for t in $T; do
  for r in 1 2; do
    rm -rf /dev/shm/s22-out
    echo "== $t run $r"
    env PGPARQUET_NVCOMP_LIB="$nv" python3 bench/gpuhost-timeline.py "$K/pgparquet" "$t" "$lib" /dev/shm/s22-out
  done
done
echo "total: $SECONDS s"
