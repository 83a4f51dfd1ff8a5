#!/bin/bash
# On the GPU host, from the repository root (session 16): as bench/gpuhost-s16b.sh (whole
# exports, P=16, zstd, lineorder 40M and wide 10M), after the decoded columns' pinned arenas
# took fine size classes (reused by sizes up to a quarter smaller): as committed, with 512 KiB
# pages, and with GOGC=35; two rounds; the CPU path once per table. Pinned memory by role
# ($PGPARQUET_CUDA_CALLSTATS) for round 1 as committed.
#   KIT (default .gpuhost/s16c): base files and pgparquet-c.xz. REUSE=1: tables of an earlier call.
set -uo pipefail
K=${KIT:-.gpuhost/s16c}; O=${OUT:-/tmp/s16c-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16c.log") 2>&1
[ "${REUSE:-0}" = 1 ] || { pkill -x postgres; sleep 1; }
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
if [ "${REUSE:-0}" != 1 ] || ! pg_isready -q; then
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
    --output-dir /dev/shm/s16c-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time=")
}
for t in lineorder wide; do
  echo "== $t"
  source_limit $t 16
  for round in 1 2; do
    gpu "r$round committed" X=1
    gpu "r$round page512" PGPARQUET_PAGE_KIB=512
    gpu "r$round GOGC=35" GOGC=35
  done
  [ "${CPU:-1}" = 1 ] && measure "$t cpu path" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s16c-out --overwrite --parallel 16 --gpu off --no-progress
  PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s16c-out \
    --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress 2>&1 >/dev/null | grep -E "^pinned|cudaMallocHost"
  rm -rf /dev/shm/s16c-out
done
echo "total: $SECONDS s"
