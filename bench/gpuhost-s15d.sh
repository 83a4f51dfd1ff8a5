#!/bin/bash
# On the GPU host, from the repository root (session 15): the pipeline alone (P=16) on
# lineorder 40M and wide 10M with the lanes' streams at the device's greatest priority and
# compression's at its least (device/cuda/streams.h; $PGPARQUET_CUDA_PRIORITY=off: as before),
# with and without sealed row groups: in s15c, sealed row groups cut the lanes' waits for
# compression from 14.5 to 5.9 lane-seconds, but their decode calls went from 3.3 to 7.9.
#   KIT (default .gpuhost/s15d, carried): as bench/gpuhost-s15b.sh.
set -uo pipefail
K=${KIT:-.gpuhost/s15d}
CONFIGS=${CONFIGS:-"prio-off PGPARQUET_CUDA_PRIORITY=off
prio
prio-off-s8 PGPARQUET_CUDA_PRIORITY=off PGPARQUET_SEALED_ROW_GROUPS=8
prio-s2 PGPARQUET_SEALED_ROW_GROUPS=2
prio-s8 PGPARQUET_SEALED_ROW_GROUPS=8 TRACE=1
prio-s8c32 PGPARQUET_SEALED_ROW_GROUPS=8 CUDA_DEVICE_MAX_CONNECTIONS=32
prio-s8k64 PGPARQUET_SEALED_ROW_GROUPS=8 PGPARQUET_GPU_ZSTD_BATCH=32,8,64"} KIT=$K OUT=${OUT:-/tmp/s15d-out} bash bench/gpuhost-s15b.sh
