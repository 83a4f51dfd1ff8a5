#!/bin/bash
# On the GPU host, from the repository root (session 18): framed receive buffers (the CopyData
# headers left between the tuples: no move per row) against compact ones as before
# ($PGPARQUET_RECEIVE_FRAMED=off) for the GPU writer: lineorder 40M and wide 10M, P=16, zstd,
# two interleaved rounds with the source limit; CPU profiles of round 1 (bench/cpusplit).
#   Needs commit f94c134 (framed buffers, reverted after this measurement: no gain).
#   KIT (default .gpuhost/s18h, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18h}; O=${OUT:-/tmp/s18h-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18h lineorder wide
ab_exports PGPARQUET_RECEIVE_FRAMED "- off"
echo "total: $SECONDS s"
