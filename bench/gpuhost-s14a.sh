#!/bin/bash
# On the GPU host, from the repository root (session 14): where the GPU writer's CPU goes inside
# the CUDA library. Go's CPU profile misses 20-37% of the GPU path's CPU (s13c, s13g), most
# likely time inside CUDA driver calls: $PGPARQUET_CUDA_CALLSTATS makes the library count every
# CUDA runtime call's calls, wall time and the calling thread's user and system CPU
# (device/cuda/callstats.h), which the export prints at its end. Lineorder (ROWS, default 40M),
# P=16, one export each: the GPU writer with the counters (and a CPU profile), without them (the
# counters' own cost), with the CUDA sync modes yield and spin ($PGPARQUET_CUDA_SYNC, against
# the default blocking sync), and the CPU path; every run's user and system CPU apart.
#   KIT (default .gpuhost/s14a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14a}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000}
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
run() { # label gpu-mode VAR=value...
  local label=$1 gpu=$2; shift 2
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 bench/gpuhost-export-run.py "$label" "$K/pgparquet-c" export --dsn $dsn --table lineorder \
    --output-dir /dev/shm/s14a --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress
  rm -rf /dev/shm/s14a
}
{
  run "gpu writer, callstats" on PGPARQUET_CUDA_CALLSTATS=1
  run "gpu writer" on
  run "gpu writer, sync yield, callstats" on PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_CUDA_SYNC=yield
  run "gpu writer, sync spin" on PGPARQUET_CUDA_SYNC=spin
  run "gpu writer, sync yield" on PGPARQUET_CUDA_SYNC=yield
  run "gpu writer again" on
  run "cpu path" off
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
