#!/bin/bash
# On the GPU host, from the repository root (session 19): the measurement build's modes 2
# (nvCOMP's kernels skipped, the pages still copied to the device) and 3 (both skipped) on
# another host (bench/gpuhost-s19a.sh ran them on one whose mode 3 gave 8 GB/s): do the pages'
# copies cost anything where the rest of the pipeline alone runs faster? TestPipelineAlone,
# lineorder 40M, P=16, two interleaved rounds.
#   KIT (default .gpuhost/s19a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19a}; O=${OUT:-/tmp/s19h-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19h lineorder
measure_lib
for round in 1 2; do
  pipeline_alone "r$round base" "$lib"
  pipeline_alone "r$round m2" "$mlib" PGPARQUET_MEASURE_NV=2
  pipeline_alone "r$round m3" "$mlib" PGPARQUET_MEASURE_NV=3
done
echo "total: $SECONDS s"
