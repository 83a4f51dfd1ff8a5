#!/bin/bash
# On the GPU host, from the repository root (session 20): the GPU writer with fixed-width
# pages in 256 KiB zstd frames and its other pages in 128 KiB (HEAD), against 128 KiB for all
# (as before session 20) and 256 KiB for all (commit f7f79d4): lineorder 40M and wide 10M,
# P=16, zstd, two interleaved rounds with the source limit; speed, CPU, peak RSS, Parquet bytes.
#   KIT (default .gpuhost/s20g, carried): base files (nvcomp.tar.xz too) and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20g}; O=${OUT:-/tmp/s20g-out}
source bench/gpuhost-prelude.sh
gpuhost_start s20g lineorder wide
ab_exports PGPARQUET_GPU_ZSTD_BATCH "- 32,4,128 32,4,256,32,4000,256" gpu
echo "total: $SECONDS s"
