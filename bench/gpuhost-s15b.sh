#!/bin/bash
# On the GPU host, from the repository root (session 15): the pipeline alone (export.test's
# TestPipelineAlone, P=16, bench/gpuhost-r8.sh) on lineorder 40M and wide 10M under zstd batcher
# settings ($PGPARQUET_GPU_ZSTD_BATCH: MiB per batch, batches on the device at once, frame KiB,
# single-page frame KiB, linger µs), the lanes' pages under way ($PGPARQUET_PAGES_IN_FLIGHT_MIB)
# and CUDA's hardware queues (CUDA_DEVICE_MAX_CONNECTIONS), after nvcompbench (s15a) showed
# nvCOMP's time per batch set by its frames' size and throughput by the frames in flight.
#   KIT (default .gpuhost/s15b, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql, nvcomp.tar.xz, export.test.xz.  CONFIGS: "name VAR=value ..." per line.
set -uo pipefail
K=${KIT:-.gpuhost/s15b}; N=$(basename "$K"); R=${OUT:-/tmp/$N-out}
mkdir -p "$R"; : > "$R/s15b.log"
CONFIGS=${CONFIGS:-"default
b32x8 PGPARQUET_GPU_ZSTD_BATCH=32,8
b64x8 PGPARQUET_GPU_ZSTD_BATCH=64,8
b64x8f32 PGPARQUET_GPU_ZSTD_BATCH=64,8 PGPARQUET_PAGES_IN_FLIGHT_MIB=32
b64x8c32 PGPARQUET_GPU_ZSTD_BATCH=64,8 CUDA_DEVICE_MAX_CONNECTIONS=32
b32x8k64 PGPARQUET_GPU_ZSTD_BATCH=32,8,64
b128x4 PGPARQUET_GPU_ZSTD_BATCH=128,4
b32x16c32 PGPARQUET_GPU_ZSTD_BATCH=32,16 CUDA_DEVICE_MAX_CONNECTIONS=32"}
reuse=0
for t in lineorder wide; do
  while read -r name envs; do
    [ -n "$name" ] || continue
    env $envs KIT=$K OUT=$R/$t-$name REUSE=$reuse ROUNDS=0 MODES="" TABLES=$t PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
    reuse=1
    echo "$t $name: $(grep -h "pipeline alone" "$R/$t-$name/r8.log" | sed 's/.*pipeline alone: //')" | tee -a "$R/s15b.log"
  done <<< "$CONFIGS"
done
grep -h "source limit" "$R"/*/r8.log | tee -a "$R/s15b.log"
echo "total: $SECONDS s" | tee -a "$R/s15b.log"
