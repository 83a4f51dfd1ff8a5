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
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in ${TABLES:-lineorder wide}; do
  for round in 1 2; do
    source_limit $t 16
    for framed in on off; do
      prof=""
      [ "$round" = 1 ] && prof="--cpu-profile $O/$t-framed-$framed.pprof"
      (export PGPARQUET_NVCOMP_LIB=$nv; [ $framed = off ] && export PGPARQUET_RECEIVE_FRAMED=off
      measure "$t r$round gpu framed $framed" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s18h-out --overwrite --parallel 16 \
        --gpu on --gpu-lib "$lib" --no-progress $prof | grep -v "^ *time=\|compression")
      rm -rf /dev/shm/s18h-out
    done
  done
done
echo "total: $SECONDS s"
