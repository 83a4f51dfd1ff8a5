#!/bin/bash
# On the GPU host, from the repository root: compression in its own partition of SMs (a green
# context, $PGPARQUET_GPU_COMPRESS_SMS, device/cuda/streams.cuh; s12b's lookup of the driver's
# functions failed), against sharing every SM, with the lanes waiting for a row group's pages
# at its end or going on with one sealed ($PGPARQUET_SEALED_ROW_GROUPS), on lineorder 40M's
# pipeline alone (TestPipelineAlone, P=16). First the decoder's GPU tests (TestGPUMatchesCPU)
# and the codecs' round trips with compression partitioned (TestGPUCodecs, pages only; nvCOMP's
# time per batch on 48 SMs, TestGPUZstdLatency), then each setting of CONFIGS ("name VAR=value ..." per line),
# in two rounds.
#   KIT (default .gpuhost/s12c, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost).
# Not kept: the green context it measured: nvCOMP failed in its streams (status 1000) and the
# pipeline did not get faster (bench/results/gpuhost-h200-2026-11-30-s12c.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12c}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
CONFIGS=${CONFIGS:-"base
sms66 PGPARQUET_GPU_COMPRESS_SMS=66
sms66-s1 PGPARQUET_GPU_COMPRESS_SMS=66 PGPARQUET_SEALED_ROW_GROUPS=1
sms32-s1 PGPARQUET_GPU_COMPRESS_SMS=32 PGPARQUET_SEALED_ROW_GROUPS=1
sms96-s1 PGPARQUET_GPU_COMPRESS_SMS=96 PGPARQUET_SEALED_ROW_GROUPS=1
s1 PGPARQUET_SEALED_ROW_GROUPS=1"}
source bench/gpuhost-pipeline-configs.sh
pipeline_configs 'TestGPUCodecs|TestGPUZstdLatency|TestGPUMatchesCPU' "PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_GPU_QUICK=1 PGPARQUET_GPU_LATENCY=1" || exit 1
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
