#!/bin/bash
# On the GPU host, from the repository root (session 18): exports over PostgreSQL's Unix socket
# against TCP to 127.0.0.1 (what the earlier calls used; the source limit's psql uses the Unix
# socket), on both paths: lineorder 40M and wide 10M, P=16, zstd, two interleaved rounds with
# the source limit.
#   KIT (default .gpuhost/s18c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18c}; O=${OUT:-/tmp/s18c-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s18c.log") 2>&1
[ "${REUSE:-0}" = 1 ] || { pkill -x postgres; sleep 1; }
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
if [ "${REUSE:-0}" != 1 ]; then # REUSE=1: PostgreSQL and the tables of an earlier call on a warm machine
  bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
  ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
  source bench/gpuhost-load-wide.sh
  load_wide || exit 1
fi
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
