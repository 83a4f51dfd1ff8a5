#!/bin/bash
# On the GPU host, from the repository root (session 16): wide 10M through the GPU writer (P=16,
# zstd) as committed and with less held at once: 8 MiB of pages under way per lane
# (PGPARQUET_PAGES_IN_FLIGHT_MIB, 16 by default), a GC percent of 30 (GOGC=30; 35 by default
# for wide), and both; three rounds, interleaved; lineorder as committed and with 8 MiB under
# way, two rounds. Peak RSS, CPU-s and GB/s against the source limit of the same call.
#   KIT (default .gpuhost/s16h): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16h}; O=${OUT:-/tmp/s16h-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16h.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
gpu() { # label, env...
  local label=$1; shift
  (export "$@" PGPARQUET_NVCOMP_LIB=$nv GODEBUG=gctrace=1; measure "$t $label" "$K/pgparquet-c" export --dsn $dsn --table $t \
    --output-dir /dev/shm/s16h-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time=")
}
t=wide
source_limit $t 16
for round in 1 2 3; do
  gpu "r$round committed" X=1
  gpu "r$round inflight8" PGPARQUET_PAGES_IN_FLIGHT_MIB=8
  gpu "r$round GOGC=30" GOGC=30
  gpu "r$round inflight8 GOGC=30" PGPARQUET_PAGES_IN_FLIGHT_MIB=8 GOGC=30
done
source_limit $t 16
t=lineorder
source_limit $t 16
for round in 1 2; do
  gpu "r$round committed" X=1
  gpu "r$round inflight8" PGPARQUET_PAGES_IN_FLIGHT_MIB=8
done
rm -rf /dev/shm/s16h-out
echo "total: $SECONDS s"
