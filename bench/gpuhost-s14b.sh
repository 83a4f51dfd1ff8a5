#!/bin/bash
# On the GPU host, from the repository root (session 14): waiting for streams through host
# functions ($PGPARQUET_CUDA_SYNC=callback, device/cuda/wait.h) against blocking sync, which
# s14a found at about 265 µs of CPU per wait (getrusage's figure: it charged each wait with the
# CPU spent before it; the thread clock says 14-16 µs, s14c); and receive buffers of 8 MiB against 4 MiB (half
# the device calls per GB). Lineorder (ROWS, default 40M), P=16, the GPU writer, interleaved.
# Runs as bench/gpuhost-s14a.sh does (user and system CPU apart; the library's counters where
# $PGPARQUET_CUDA_CALLSTATS is set). The callback mode was taken out after this call (5% more CPU).
#   KIT (default .gpuhost/s14b, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000}
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
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label gpu-mode buffer-size VAR=value...
  local label=$1 gpu=$2 buf=$3; shift 3
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 bench/gpuhost-export-run.py "$label" "$K/pgparquet-c" export --dsn $dsn --table lineorder \
    --output-dir /dev/shm/s14b --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress --buffer-size "$buf"
  rm -rf /dev/shm/s14b
}
{
  for round in 1 2; do
    run "blocking" on 4MiB
    run "callback" on 4MiB PGPARQUET_CUDA_SYNC=callback
  done
  run "callback, callstats" on 4MiB PGPARQUET_CUDA_SYNC=callback PGPARQUET_CUDA_CALLSTATS=1
  run "blocking, 8MiB" on 8MiB
  run "callback, 8MiB" on 8MiB PGPARQUET_CUDA_SYNC=callback
  run "blocking, callstats" on 4MiB PGPARQUET_CUDA_CALLSTATS=1
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
