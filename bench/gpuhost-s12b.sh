#!/bin/bash
# On the GPU host, from the repository root: compression in its own partition of SMs (a green
# context, $PGPARQUET_GPU_COMPRESS_SMS, device/cuda/streams.cuh), against sharing every SM, and
# nvCOMP's frame size and batchers ($PGPARQUET_GPU_ZSTD_BATCH), on lineorder 40M's pipeline
# alone (TestPipelineAlone, P=16). First the codecs' round trips with compression partitioned
# (TestGPUCodecs, pages only), then each setting of CONFIGS ("name VAR=value ..." per line),
# in two rounds.
#   KIT (default .gpuhost/s12b, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost).
# Not kept: the green context it measured (device/cuda/streams.cuh of that call); its driver
# lookup failed here, s12c measured it (bench/results/gpuhost-h200-2026-11-30-s12b.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
CONFIGS=${CONFIGS:-"base
sms48 PGPARQUET_GPU_COMPRESS_SMS=48
sms32 PGPARQUET_GPU_COMPRESS_SMS=32
sms64 PGPARQUET_GPU_COMPRESS_SMS=64
f64 PGPARQUET_GPU_ZSTD_BATCH=32,4,64
sms48-b8 PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_GPU_ZSTD_BATCH=32,8"}
source bench/gpuhost-pipeline-configs.sh
pipeline_configs 'TestGPUCodecs|TestGPUZstdLatency' "PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_GPU_QUICK=1 PGPARQUET_GPU_LATENCY=1" || exit 1
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
