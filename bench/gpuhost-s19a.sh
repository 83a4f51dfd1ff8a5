#!/bin/bash
# On the GPU host, from the repository root (session 19): what bounds the pipeline alone
# (TestPipelineAlone, lineorder 40M, P=16)? A measurement build of the CUDA library
# (nvcc -DPGPQ_MEASURE_NV, device/cuda/nvcomp.cu) skips, by $PGPARQUET_MEASURE_NV, the copy of
# the pages to the device (1), nvCOMP's kernels (2) or both (3): the files it writes are not
# valid, only the time counts. (Mode 1 turned out not to measure the copies alone: the device
# input is then never written, and nvCOMP compresses zeros.) Each as committed (4 batchers of
# 32 MiB) and with the most compression in flight seen so far (4 of 128 MiB, 8 sealed row
# groups, 32 hardware queues); two interleaved rounds; execution traces of round 1's runs
# without those settings (bench/traceregions) in $O/traces.tar.xz.
#   KIT (default .gpuhost/s19a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19a}; O=${OUT:-/tmp/s19a-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19a lineorder
measure_lib
big="PGPARQUET_GPU_ZSTD_BATCH=128,4 PGPARQUET_SEALED_ROW_GROUPS=8 CUDA_DEVICE_MAX_CONNECTIONS=32"
mkdir -p "$O/traces"
for round in 1 2; do
  # NAME:MEASURE:SETTINGS ("-": the committed library; 0-3 the measurement build's mode)
  for c in base:-:- m0:0:- m1:1:- m2:2:- m3:3:- bigbase:-:big bigm1:1:big bigm2:2:big bigm3:3:big; do
    name=${c%%:*} rest=${c#*:} m=${rest%%:*} set=${rest#*:}
    l=$lib; [ "$m" = - ] || l=$mlib
    tr=""; [ "$round" = 1 ] && [ "$set" = - ] && tr="PGPARQUET_PIPELINE_TRACE=$O/traces/$name.trace"
    pipeline_alone "r$round $name" "$l" $([ "$m" = - ] || echo PGPARQUET_MEASURE_NV=$m) $([ "$set" = big ] && echo $big) $tr
  done
done
(cd "$O" && tar cJf traces.tar.xz traces && rm -rf traces)
ls -la "$O"
echo "total: $SECONDS s"
