#!/bin/bash
# On the GPU host, from the repository root (session 18): exports over PostgreSQL's Unix socket
# against TCP to 127.0.0.1 (what the earlier calls used; the source limit's psql uses the Unix
# socket), on both paths: lineorder 40M and wide 10M, P=16, zstd, two interleaved rounds with
# the source limit.
#   KIT (default .gpuhost/s18c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18c}; O=${OUT:-/tmp/s18c-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18c lineorder wide
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
tcp=postgres://postgres@127.0.0.1:5432/postgres
unix="postgres://postgres@/postgres?host=/tmp/pgsock&port=5432"
for t in ${TABLES:-lineorder wide}; do
  for round in 1 2; do
    source_limit $t 16
    for path in ${PATHS:-gpu cpu}; do
      for via in tcp unix; do
        dsn=$tcp; [ $via = unix ] && dsn=$unix
        (export PGPARQUET_NVCOMP_LIB=$nv
        measure "$t r$round $path $via" "$K/pgparquet-c" export --dsn "$dsn" --table $t --output-dir /dev/shm/s18c-out --overwrite --parallel 16 \
          --gpu $([ $path = gpu ] && echo on || echo off) --gpu-lib "$lib" --no-progress | grep -v "^ *time=\|compression")
        rm -rf /dev/shm/s18c-out
      done
    done
  done
done
echo "total: $SECONDS s"
