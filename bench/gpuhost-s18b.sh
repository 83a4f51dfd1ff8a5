#!/bin/bash
# On the GPU host, from the repository root (session 18): the workers' COPY reads woken by the
# kernel once 256 KiB are queued (SO_RCVLOWAT, snapshot.receiveLowWater) against at every
# segment as before ($PGPARQUET_RECEIVE_LOW_WATER=0), on both paths: lineorder 40M and wide
# 10M, P=16, zstd, two interleaved rounds with the source limit; CPU profiles of round 1's
# GPU writer exports (bench/cpusplit reads them).
#   KIT (default .gpuhost/s18b, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18b}; O=${OUT:-/tmp/s18b-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18b lineorder wide
ab_exports PGPARQUET_RECEIVE_LOW_WATER "256 0" gpu cpu
echo "total: $SECONDS s"
