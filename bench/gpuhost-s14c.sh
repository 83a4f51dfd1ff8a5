#!/bin/bash
# On the GPU host, from the repository root (session 14): the CUDA library's CPU per call
# measured with the thread CPU clock (device/cuda/callstats.h; s14a-b's getrusage figures
# charged a wait with the CPU spent before it), on lineorder (ROWS, default 40M) with 4 and 8
# MiB receive buffers and on wide (WIDE_ROWS, default 5M), P=16, the GPU writer.
# Runs as bench/gpuhost-s14a.sh does (user and system CPU apart; the library's counters where
# $PGPARQUET_CUDA_CALLSTATS is set).
#   KIT (default .gpuhost/s14c, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql, nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14c}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000} WIDE_ROWS=${WIDE_ROWS:-5000000}
mkdir -p "$O"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
uname -a; nproc; grep -m1 "model name" /proc/cpuinfo; grep -o -m1 -w "sha_ni" /proc/cpuinfo
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label table gpu-mode buffer-size VAR=value...
  local label=$1 table=$2 gpu=$3 buf=$4; shift 4
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 bench/gpuhost-export-run.py "$label" "$K/pgparquet-c" export --dsn $dsn --table "$table" \
    --output-dir /dev/shm/s14c --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress --buffer-size "$buf"
  rm -rf /dev/shm/s14c
}
{
  for round in 1 2; do
    run "lineorder, callstats" lineorder on 4MiB PGPARQUET_CUDA_CALLSTATS=1
  done
  run "lineorder, 8MiB, callstats" lineorder on 8MiB PGPARQUET_CUDA_CALLSTATS=1
  run "lineorder" lineorder on 4MiB
  run "wide, callstats" wide on 4MiB PGPARQUET_CUDA_CALLSTATS=1
  run "wide" wide on 4MiB
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
