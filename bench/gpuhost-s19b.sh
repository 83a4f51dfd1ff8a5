#!/bin/bash
# On the GPU host, from the repository root (session 19): s19a's traces of the pipeline alone
# with nvCOMP's work skipped showed the lanes runnable (waiting for a P) for 3.7 of 13
# lane-seconds while 16 lanes and 4 compression runners sit in cgo calls. Here GOMAXPROCS 16
# (the host's cores), 32 and 64 for the pipeline alone (TestPipelineAlone, lineorder 40M,
# P=16): as committed, with nvCOMP's copies and kernels skipped (the measurement build's mode 3,
# see bench/gpuhost-s19a.sh) and with the most compression in flight (4 batchers of 128 MiB,
# 8 sealed row groups, 32 hardware queues); two interleaved rounds, traces of round 1's
# 64-P runs.
#   KIT (default .gpuhost/s19a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19a}; O=${OUT:-/tmp/s19b-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19b lineorder
measure_lib
big="PGPARQUET_GPU_ZSTD_BATCH=128,4 PGPARQUET_SEALED_ROW_GROUPS=8 CUDA_DEVICE_MAX_CONNECTIONS=32"
mkdir -p "$O/traces"
for round in 1 2; do
  for procs in ${PROCS:-16 32 64}; do
    # NAME:MEASURE:SETTINGS ("-": the committed library; 3 the measurement build's mode)
    for c in base:-:- m3:3:- bigbase:-:big; do
      name=${c%%:*} rest=${c#*:} m=${rest%%:*} set=${rest#*:}
      l=$lib; [ "$m" = - ] || l=$mlib
      tr=""; [ "$round" = 1 ] && [ "$procs" = 64 ] && tr="PGPARQUET_PIPELINE_TRACE=$O/traces/$name-$procs.trace"
      pipeline_alone "r$round $name P$procs" "$l" GOMAXPROCS=$procs $([ "$m" = - ] || echo PGPARQUET_MEASURE_NV=$m) \
        $([ "$set" = big ] && echo $big) $tr
    done
  done
done
(cd "$O" && tar cJf traces.tar.xz traces && rm -rf traces)
echo "total: $SECONDS s"
