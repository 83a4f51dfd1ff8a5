#!/bin/bash
# On the GPU host, from the repository root (session 10): the pipeline alone (TestPipelineAlone,
# lineorder 40M rows and wide 10M, P=16, traces) through bench/gpuhost-r8.sh for each zstd
# batcher setting in CONFIGS ($PGPARQUET_GPU_ZSTD_BATCH, "MIB,BATCHERS[,KIB[,SMALL_KIB[,
# LINGER_US]]]"; "default"), each in a folder of its own, all tarred into one file.
#   KIT (default .gpuhost/r10g, carried): as gpuhost-r8.sh's, without pgparquet-c.
set -uo pipefail
K=${KIT:-.gpuhost/r10g}; O=${OUT:-/tmp/r10g-out}; R=/tmp/r10g-runs
mkdir -p "$O" "$R"
reuse=0
for cfg in ${CONFIGS:-default 32,4,128,64,500 32,4,128,64,10000 64,4,128,64,8000 32,4,128,32,4000}; do
  v=$cfg; [ "$cfg" = default ] && v=""
  PGPARQUET_GPU_ZSTD_BATCH=$v KIT=$K OUT="$R/${cfg//,/-}" REUSE=$reuse ROUNDS=0 MODES="" TRACE=1 PIPELINE=pages \
    bash bench/gpuhost-r8.sh > /dev/null 2>&1
  reuse=1
  grep -E 'pipeline alone' "$R/${cfg//,/-}/r8.log" | sed "s/^/$cfg: /"
done | tee "$R/summary.log"
tar -cf "$O/r10g.tar" -C "$R" .
