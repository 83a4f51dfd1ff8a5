#!/bin/bash
# On the GPU host, from the repository root (session 16): whole exports (P=16, zstd) of
# lineorder 40M and wide 10M through the GPU writer with the Recycler that drops what it no
# longer reuses and nVCOMP's pinned output sized from a batch, under the pages-in-flight
# bounds (PGPARQUET_PAGES_IN_FLIGHT_MIB 16, 8, 4), a lower GC percent (GOGC=25) and 512 KiB
# pages; the CPU path once per table; the source limit first. Two rounds of the GPU variants.
#   KIT (default .gpuhost/s16b): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16b}; O=${OUT:-/tmp/s16b-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16b.log") 2>&1
[ "${REUSE:-0}" = 1 ] || { pkill -x postgres; sleep 1; }
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
if [ "${REUSE:-0}" != 1 ] || ! pg_isready -q; then # REUSE=1: PostgreSQL and the tables of an earlier call
  bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
  ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
  source bench/gpuhost-load-wide.sh
  load_wide || exit 1
fi
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
gpu() { # label, env...
  local label=$1; shift
  (export "$@" PGPARQUET_NVCOMP_LIB=$nv GODEBUG=gctrace=1; measure "$t $label" "$K/pgparquet-c" export --dsn $dsn --table $t \
    --output-dir /dev/shm/s16b-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time=")
}
for t in lineorder wide; do
  echo "== $t"
  source_limit $t 16
  for round in 1 2; do
    gpu "r$round committed" X=1
    gpu "r$round inflight8" PGPARQUET_PAGES_IN_FLIGHT_MIB=8
    gpu "r$round inflight4" PGPARQUET_PAGES_IN_FLIGHT_MIB=4
    gpu "r$round inflight4 GOGC=25" PGPARQUET_PAGES_IN_FLIGHT_MIB=4 GOGC=25
    gpu "r$round inflight4 page512" PGPARQUET_PAGES_IN_FLIGHT_MIB=4 PGPARQUET_PAGE_KIB=512
  done
  [ "${CPU:-1}" = 1 ] && measure "$t cpu path" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s16b-out --overwrite --parallel 16 --gpu off --no-progress
  rm -rf /dev/shm/s16b-out
done
echo "total: $SECONDS s"
