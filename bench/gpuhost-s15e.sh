#!/bin/bash
# On the GPU host, from the repository root (session 15): whole exports (bench/gpuhost-r8.sh,
# P=16, zstd, lineorder 40M and wide 10M, each setting's rounds together) as committed (lane
# streams at the greatest priority, 32 hardware queues) with the CPU path, then with sealed row
# groups ($PGPARQUET_SEALED_ROW_GROUPS=2), then as before session 15 (8 queues, no priorities).
#   KIT (default .gpuhost/s15e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql, nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s15e}; R=${OUT:-/tmp/s15e-out}
mkdir -p "$R"
run() { # name MODES ROUNDS VAR=value...
  local name=$1 modes=$2 rounds=$3 reuse=1; shift 3
  [ -f "$R/started" ] || reuse=0
  env "$@" KIT=$K OUT=$R/$name REUSE=$reuse ROUNDS=$rounds MODES="$modes" PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
  touch "$R/started"
  grep -E "source limit|round [0-9]" "$R/$name/r8.log" | sed "s/^/$name: /" | cut -c1-260 | tee -a "$R/s15e.log"
}
run committed "pages cpu" 2 X=1
run sealed2 pages 2 PGPARQUET_SEALED_ROW_GROUPS=2
run before pages 2 CUDA_DEVICE_MAX_CONNECTIONS=8 PGPARQUET_CUDA_PRIORITY=off
echo "total: $SECONDS s" | tee -a "$R/s15e.log"
