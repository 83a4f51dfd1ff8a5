#!/bin/bash
# On the GPU host, from the repository root (session 17): the GPU writer's exports with
# GOMAXPROCS following the process's CPU use (export/procs.go, 184ce65) against GOMAXPROCS=16
# from the environment (left alone): lineorder 40M and wide 10M, P=16, zstd, two interleaved
# rounds with the source limit.
#   KIT (default .gpuhost/s17c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17c}; O=${OUT:-/tmp/s17j-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s17j.log") 2>&1
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
