#!/bin/bash
# On the GPU host right after gpuhost-s11i.sh (same warm machine): the pipeline alone
# (TestPipelineAlone, P=16) on lineorder and wide with traces, then lineorder again without GPU
# compression (nvCOMP off: zstd on the CPU) with a trace, to see how long the lanes' own GPU
# calls (decode, fixed-width pages, grouping strings) take without nvCOMP's batches beside them.
# First the device's GPU tests of the decoder (the columns without a kernel now decoded
# together on the CPU), the page encoder and the grouping of strings.
#   KIT (default .gpuhost/s11j, carried): export.test.xz, device.test.xz; nvCOMP, the CUDA library and
#   PostgreSQL come from gpuhost-s11i.sh's kit and run (BASE, default .gpuhost/s11i).
set -uo pipefail
K=${KIT:-.gpuhost/s11j}; N=$(basename "$K"); B=${BASE:-.gpuhost/s11i}; O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
[ -f "$B/libc.so" ] || { echo "no $B/libc.so: the machine is not the one gpuhost-s11i.sh ran on"; exit 1; }
ln -sfn "$(realpath "$B/nvcomp")" "$K/nvcomp"; cp "$B/libc.so" "$K/libc.so"; ln -f "$B/nvcomp.tar.xz" "$K/" 2>/dev/null || cp "$B/nvcomp.tar.xz" "$K/"
mkdir -p "$R/device"
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
(cd device && PGPARQUET_CUDA_LIB=$(realpath "../$K/libc.so") PGPARQUET_NVCOMP_LIB=$(realpath "../$K/nvcomp/lib64/libnvcomp.so.6") \
  PGPARQUET_REQUIRE_GPU=1 timeout 120 ../$K/device.test -test.v -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUPageEncoder|TestGPUUniques' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -20) > "$R/device/tests.log"
cat "$R/device/tests.log"
KIT=$K OUT=$R/default REUSE=1 ROUNDS=0 MODES="" TRACE=1 PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
PIPELINE_NVCOMP=off KIT=$K OUT=$R/nvcomp-off REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder TRACE=1 PIPELINE=pages \
  bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -h "pipeline" "$R"/*/r8.log
tar -cf "$O/$N.tar" -C "$R" .
