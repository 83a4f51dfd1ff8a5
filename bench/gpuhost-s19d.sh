#!/bin/bash
# On the GPU host, from the repository root (session 19): the GPU writer's exports (lineorder
# 40M, wide 10M, P=16, zstd) as committed against more compression in flight, which took the
# pipeline alone from 4.5-5.1 to 6.0-7.7 GB/s (s19b, s19c): batches of 128 MiB
# ($PGPARQUET_GPU_ZSTD_BATCH=128,4) with 8 sealed row groups per lane, and sealed row groups
# alone; two interleaved rounds with the source limit, speed, CPU and peak RSS.
#   KIT (default .gpuhost/s19d, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19d}; O=${OUT:-/tmp/s19d-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19d lineorder wide
lscpu | grep -E 'Model name|^CPU\(s\)'
# export_with TABLE ROUND NAME:SETTINGS (+ joins several; "-": none): one GPU writer export.
export_with() {
  local t=$1 round=$2 name=${3%%:*} set=${3#*:}
  (export PGPARQUET_NVCOMP_LIB=$nv; [ "$set" = - ] || export ${set//+/ }
  measure "$t r$round $name" "$K/pgparquet-c" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" \
    --output-dir /dev/shm/s19d-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time=\|compression")
  rm -rf /dev/shm/s19d-out
}
ab_loop export_with committed:- b128s8:PGPARQUET_GPU_ZSTD_BATCH=128,4+PGPARQUET_SEALED_ROW_GROUPS=8 s8:PGPARQUET_SEALED_ROW_GROUPS=8
echo "total: $SECONDS s"
