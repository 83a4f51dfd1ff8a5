#!/bin/bash
# On the GPU host, from the repository root (session 19): how much compression in flight the
# pipeline alone (TestPipelineAlone, lineorder 40M, P=16) needs once nvCOMP is what bounds it
# (s19a-b: 4.6-5.1 GB/s as committed, 13.4-14.8 with nvCOMP's work skipped on the same host).
# Each config: batch MiB × batchers ($PGPARQUET_GPU_ZSTD_BATCH), sealed row groups per lane,
# MiB of pages under way per lane ($PGPARQUET_PAGES_IN_FLIGHT_MIB), 32 CUDA hardware queues;
# m3 is the measurement build with nvCOMP's copies and kernels skipped (bench/gpuhost-s19a.sh).
# Two interleaved rounds.
#   KIT (default .gpuhost/s19a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19a}; O=${OUT:-/tmp/s19c-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19c lineorder
measure_lib
for round in 1 2; do
  # NAME:BATCH:SEALED:INFLIGHT ("-": the default)
  for c in base:-:-:- m3:-:-:- b128x4s8:128,4:8:- b128x4s8f64:128,4:8:64 b128x8s8f64:128,8:8:64 b256x4s8f64:256,4:8:64 \
           b64x8s8f64:64,8:8:64 b128x8s16f128:128,8:16:128 b32x4s8f64:-:8:64; do
    IFS=: read -r name batch sealed fl <<< "$c"
    l=$lib m=""; [ "$name" = m3 ] && l=$mlib m=PGPARQUET_MEASURE_NV=3
    pipeline_alone "r$round $name" "$l" $m CUDA_DEVICE_MAX_CONNECTIONS=32 $([ "$batch" = - ] || echo PGPARQUET_GPU_ZSTD_BATCH=$batch) \
      $([ "$sealed" = - ] || echo PGPARQUET_SEALED_ROW_GROUPS=$sealed) $([ "$fl" = - ] || echo PGPARQUET_PAGES_IN_FLIGHT_MIB=$fl)
  done
done
echo "total: $SECONDS s"
