#!/bin/bash
# On the GPU host, from the repository root (session 17): the GPU writer's exports with
# GOMAXPROCS following the process's CPU use (export/procs.go, 184ce65) against GOMAXPROCS=16
# from the environment (left alone): lineorder 40M and wide 10M, P=16, zstd, two interleaved
# rounds with the source limit.
#   KIT (default .gpuhost/s17c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17c}; O=${OUT:-/tmp/s17j-out}
source bench/gpuhost-prelude.sh
gpuhost_start s17j lineorder wide
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in lineorder wide; do
  for round in 1 2; do
    source_limit $t 16
    for procs in default 16; do
      (export PGPARQUET_NVCOMP_LIB=$nv; [ $procs = default ] || export GOMAXPROCS=$procs
      measure "$t r$round gpu writer GOMAXPROCS $procs" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s17j-out --overwrite --parallel 16 --gpu on \
        --gpu-lib "$lib" --no-progress | grep -v "^ *time=\|compression")
      rm -rf /dev/shm/s17j-out
    done
  done
done
echo "total: $SECONDS s"
