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
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in ${TABLES:-lineorder wide}; do
  for round in 1 2; do
    source_limit $t 16
    for path in ${PATHS:-gpu cpu}; do
      for lw in 256 0; do
        prof=""
        [ "$round" = 1 ] && [ $path = gpu ] && prof="--cpu-profile $O/$t-lw$lw.pprof"
        (export PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_RECEIVE_LOW_WATER=$lw
        measure "$t r$round $path low water ${lw} KiB" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s18b-out --overwrite --parallel 16 \
          --gpu $([ $path = gpu ] && echo on || echo off) --gpu-lib "$lib" --no-progress $prof | grep -v "^ *time=\|compression")
        rm -rf /dev/shm/s18b-out
      done
    done
  done
done
echo "total: $SECONDS s"
