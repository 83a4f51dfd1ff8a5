#!/bin/bash
# On the GPU host, from the repository root (session 13): the GPU differential tests at the
# session's end (list generator fixed, timing helper shared), TestGPUListsMatchCPU 10 times.
#   KIT (default .gpuhost/s13f, carried): nvcomp.tar.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s13f}; O=${OUT:-/tmp/s13f-out}
mkdir -p "$O"
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
cd device
PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 100 ../$K/device.test \
  -test.run '^TestGPUListsMatchCPU$' -test.count 10 -test.v > "$O/lists.log" 2>&1
echo "TestGPUListsMatchCPU: $(grep -c -- '--- PASS' "$O/lists.log") passed, $(grep -c -- '--- FAIL' "$O/lists.log") failed"
grep -B3 -- '--- FAIL' "$O/lists.log" | head -20
PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 100 ../$K/device.test \
  -test.run '^(TestGPUMatchesCPU|TestGPUNumericTextMatchesCPU|TestGPUListThroughput|TestGPUNumericTextThroughput)$' -test.v > "$O/others.log" 2>&1
grep -vE '^=== RUN' "$O/others.log" | head -30
echo "total: $SECONDS s"
