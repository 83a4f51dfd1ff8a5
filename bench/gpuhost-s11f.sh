#!/bin/bash
# On the GPU host, from the repository root (session 11): the pipeline alone (TestPipelineAlone,
# lineorder 40M rows, P=16) with lanes that no longer wait for compression, swept over the zstd
# batchers ($PGPARQUET_GPU_ZSTD_BATCH "MIB,BATCHERS") and the pages a lane may have under way
# ($PGPARQUET_PAGES_IN_FLIGHT_MIB): CONFIGS of "BATCH/INFLIGHT" ("default" for the batchers'
# defaults), each through bench/gpuhost-r8.sh in a folder of its own, all tarred into one file.
#   KIT (default .gpuhost/s11f, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11f}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
reuse=0
for cfg in ${CONFIGS:-default/32 64,4/64 128,4/64 64,8/64 128,8/128 32,8/64}; do
  b=${cfg%/*}; [ "$b" = default ] && b=""
  d="$R/${cfg//[,\/]/-}"
  PGPARQUET_GPU_ZSTD_BATCH=$b PGPARQUET_PAGES_IN_FLIGHT_MIB=${cfg#*/} KIT=$K OUT="$d" REUSE=$reuse ROUNDS=0 MODES="" \
    TABLES=lineorder PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
  reuse=1
  grep -E 'pipeline alone|source limit' "$d/r8.log" | sed "s|^|$cfg: |"
done | tee "$R/summary.log"
tar -cf "$O/$N.tar" -C "$R" .
