#!/bin/bash
# On the GPU host, from the repository root: the zstd batcher's batch size and batch count
# ($PGPARQUET_GPU_ZSTD_BATCH "MIB,BATCHERS"; default 16,4) against the pipeline alone
# (TestPipelineAlone, lineorder, P=16, 4 MiB buffers) and the whole export with the GPU writer
# (default and VARIANT, interleaved, 2 rounds). KIT as bench/gpuhost-r8.sh's. Logs in $OUT.
set -uo pipefail
K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8e-out}; ROWS=${ROWS:-40000000}; VARIANT=${VARIANT:-64,8}
mkdir -p "$O"
exec > >(tee -a "$O/r8e.log") 2>&1
source bench/gpuhost-r8-setup.sh
for v in 16,4 64,4 16,8 32,8 64,8; do
  (cd export && PGPARQUET_GPU_ZSTD_BATCH=$v PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
    PGPARQUET_PIPELINE_TABLE=lineorder PGPARQUET_PIPELINE_OUT=/dev/shm/r8e-pipe PGPARQUET_PIPELINE_JSON="$O/pipeline-${v/,/x}.json" \
    timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline alone|FAIL|panic' | sed "s/^/batch $v: /")
  rm -rf /dev/shm/r8e-pipe
done
source bench/gpuhost-measure.sh
for round in 1 2; do
  for v in 16,4 $VARIANT; do
    PGPARQUET_GPU_ZSTD_BATCH=$v PGPARQUET_NVCOMP_LIB=$nv measure "round $round lineorder gpu writer, batch $v" "$K/pgparquet-c" export \
      --dsn $dsn --table lineorder --output-dir /dev/shm/r8e-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress
    rm -rf /dev/shm/r8e-out
  done
done
echo "total: $SECONDS s"
