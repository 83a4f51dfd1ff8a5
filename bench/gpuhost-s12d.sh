#!/bin/bash
# On the GPU host, from the repository root: the decoder's outputs of a chunk in one copy from
# the device (pgpq_finish_block) against one copy per buffer ($PGPARQUET_GPU_FINISH=buffers),
# on lineorder 40M's pipeline alone (TestPipelineAlone, P=16), the lanes waiting for a row
# group's pages at its end (as committed) or going on with one sealed
# ($PGPARQUET_SEALED_ROW_GROUPS=1), two rounds, traces of the first; then wide 10M's. First
# the device's GPU tests of the decoder (bit for bit against the CPU, CUDA faults) and of the page encoder.
#   KIT (default .gpuhost/s12d, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost), wide.sql
#   (go run ./bench/load --shape wide --print-sql).
# Not kept: pgpq_finish_block, which it measured: the decode calls took 20-30% less time, the
# other calls as much more, the pipeline no faster (bench/results/gpuhost-h200-2026-11-30-s12d.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12d}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
CONFIGS=${CONFIGS:-"block
buffers PGPARQUET_GPU_FINISH=buffers
block-s1 PGPARQUET_SEALED_ROW_GROUPS=1
buffers-s1 PGPARQUET_GPU_FINISH=buffers PGPARQUET_SEALED_ROW_GROUPS=1"}
source bench/gpuhost-pipeline-configs.sh
pipeline_configs 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUPageEncoder|TestGPUUniques' "" || exit 1
# wide 10M's pipeline alone, as committed (its arrays now decoded without arrow-go's builders)
KIT=$K OUT=$R/wide REUSE=1 ROUNDS=0 MODES="" TABLES=wide PIPELINE=pages TRACE=1 bash bench/gpuhost-r8.sh > /dev/null 2>&1
echo "wide: $(grep -h "pipeline alone" "$R/wide/r8.log" | sed 's/.*pipeline alone: //')"
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
