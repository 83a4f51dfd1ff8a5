#!/bin/bash
# On the GPU host, from the repository root (session 13): TestGPUListsMatchCPU, which failed
# once in s13c, 20 times with its full output, and the other differential tests 5 times.
#   KIT (default .gpuhost/s13d, carried): nvcomp.tar.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s13d}; O=${OUT:-/tmp/s13d-out}
mkdir -p "$O"
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
cd device
PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 ../$K/device.test \
  -test.run '^TestGPUListsMatchCPU$' -test.count 20 -test.v > "$O/lists.log" 2>&1
grep -vE '^(=== RUN|--- PASS)' "$O/lists.log" | grep -v 'seed\|mutations' | head -40
grep -c -- '--- PASS' "$O/lists.log"
PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 120 ../$K/device.test \
  -test.run '^(TestGPUMatchesCPU|TestGPUNumericTextMatchesCPU)$' -test.count 5 -test.v > "$O/others.log" 2>&1
grep -E -- '^--- (PASS|FAIL)' "$O/others.log" | sort | uniq -c
grep -A5 -- '--- FAIL' "$O/others.log" | head -20
echo "total: $SECONDS s"
