#!/bin/bash
# On the GPU host, from the repository root (session 19): what 21% fewer page bytes would save
# the pipeline alone (TestPipelineAlone, lineorder 40M, P=16). pyarrow's writer, given
# lineorder's rows, writes 21% fewer uncompressed bytes when its five low-cardinality integer
# and date columns are dictionary-encoded (files the same size); the measurement build's mode 4
# (bench/gpuhost-s19a.sh) gives nvCOMP the first 79% of each chunk instead. As committed and
# with more compression in flight (4 batchers of 128 MiB, 8 sealed row groups, 32 hardware
# queues); two interleaved rounds.
#   KIT (default .gpuhost/s19a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19a}; O=${OUT:-/tmp/s19f-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19f lineorder
measure_lib
big="PGPARQUET_GPU_ZSTD_BATCH=128,4 PGPARQUET_SEALED_ROW_GROUPS=8 CUDA_DEVICE_MAX_CONNECTIONS=32"
for round in 1 2; do
  pipeline_alone "r$round base" "$lib"
  pipeline_alone "r$round m4" "$mlib" PGPARQUET_MEASURE_NV=4
  pipeline_alone "r$round m3" "$mlib" PGPARQUET_MEASURE_NV=3
  pipeline_alone "r$round big base" "$lib" $big
  pipeline_alone "r$round big m4" "$mlib" PGPARQUET_MEASURE_NV=4 $big
done
echo "total: $SECONDS s"
