#!/bin/bash
# On the GPU host, from the repository root (session 19): the device's GPU tests on fresh seeds
# with HEAD's library (decoders, fused finishing, lists, numeric text, page encoder, grouping,
# zstd and the other batchers, injected failures); then the pipeline alone (TestPipelineAlone,
# lineorder 40M, P=16) as committed and with nvCOMP's work skipped (the measurement build's
# mode 3, bench/gpuhost-s19a.sh) at GOMAXPROCS 16 and 64 and with spinning CUDA waits
# ($PGPARQUET_CUDA_SYNC=spin): does the lanes' runnable time, large on s19a's host, come from
# Ps or from waking threads? Two interleaved rounds.
#   KIT (default .gpuhost/s19e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19e}; O=${OUT:-/tmp/s19e-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19e lineorder
lscpu | grep -E 'Model name'
echo "== device GPU tests"
device_gpu_tests
echo "device tests: $SECONDS s"
measure_lib
for round in 1 2; do
  # NAME:MEASURE:GOMAXPROCS:SYNC ("-": the committed library, the default)
  for c in base:-:16:- m3:3:16:- base:-:64:- m3:3:64:- base:-:16:spin m3:3:16:spin; do
    IFS=: read -r name m procs sync <<< "$c"
    l=$lib; [ "$m" = - ] || l=$mlib
    pipeline_alone "r$round $name P$procs sync $sync" "$l" GOMAXPROCS=$procs $([ "$m" = - ] || echo PGPARQUET_MEASURE_NV=$m) \
      $([ "$sync" = - ] || echo PGPARQUET_CUDA_SYNC=$sync)
  done
done
echo "total: $SECONDS s"
