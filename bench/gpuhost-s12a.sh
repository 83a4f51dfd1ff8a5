#!/bin/bash
# On the GPU host, from the repository root: do stream priorities (the lanes' streams first,
# nvCOMP's last: device/cuda/streams.cuh) change the pipeline alone? First nvCOMP zstd's time
# per batch by chunks and chunk size (TestGPUZstdLatency) and the device's GPU tests with
# priorities on; then lineorder 40M's pipeline alone (TestPipelineAlone, P=16) with priorities
# on and off, twice interleaved, with traces of the first round, and once at P=32.
#   KIT (default .gpuhost/s12a, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost).
# Not kept: the stream priorities it measured (device/cuda/streams.cuh of that call) changed
# nothing (bench/results/gpuhost-h200-2026-11-30-s12a.log); TestGPUZstdLatency stays.
set -uo pipefail
K=${KIT:-.gpuhost/s12a}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R/device"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
source bench/gpuhost-cuda-lib.sh
t0=$SECONDS
cuda_lib || exit 1
echo "nvcc: $((SECONDS - t0)) s" > "$R/device/tests.log"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_LATENCY=1 timeout 150 \
  ../$K/device.test -test.v -test.run 'TestGPUZstdLatency|TestGPUMatchesCPU|TestGPUPageEncoder|TestGPUUniques' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -60) >> "$R/device/tests.log"
cat "$R/device/tests.log"
KIT=$K OUT=$R/prio1 ROUNDS=0 MODES="" TABLES=lineorder TRACE=1 PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
PGPARQUET_GPU_PRIORITY=off KIT=$K OUT=$R/noprio1 REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder TRACE=1 PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
KIT=$K OUT=$R/prio2 REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
PGPARQUET_GPU_PRIORITY=off KIT=$K OUT=$R/noprio2 REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
P=32 KIT=$K OUT=$R/prio-p32 REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
for d in prio1 noprio1 prio2 noprio2 prio-p32; do echo "-- $d"; grep -h "pipeline alone\|lineorder:" "$R/$d/r8.log"; done
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
