#!/bin/bash
# On the GPU host, from the repository root (session 18): framed receive buffers (the CopyData
# headers left between the tuples: no move per row) against compact ones as before
# ($PGPARQUET_RECEIVE_FRAMED=off) for the GPU writer: lineorder 40M and wide 10M, P=16, zstd,
# two interleaved rounds with the source limit; CPU profiles of round 1 (bench/cpusplit).
#   Needs commit f94c134 (framed buffers, reverted after this measurement: no gain).
#   KIT (default .gpuhost/s18h, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18h}; O=${OUT:-/tmp/s18h-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s18h.log") 2>&1
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
