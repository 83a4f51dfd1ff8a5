#!/bin/bash
# On the GPU host, from the repository root (session 18): framed receive buffers (the CopyData
# headers left between the tuples, snapshot's receiver) checked on the GPU:
#   - the device's GPU tests, which now also decode framed chunks (TestGPUMatchesCPU,
#     -FusedMatchesCPU, -ListsMatchCPU) and the fault tests, then compute-sanitizer memcheck on
#     TestGPUMatchesCPU;
#   - the produce halves of TestGPUWriterRandomTables and TestGPUWriterStatisticsAreTrue (the
#     GPU writer's exports receive framed buffers; the gpu-p1 comparison needs the same row
#     groups as the CPU path's compact ones), left in $OUT/random.tar.xz and $OUT/stats.tar.xz
#     to check here as bench/gpuhost-s17b.sh says.
# Needs the framed buffers of commit f11c367 (reverted after s18h measured no gain).
# KIT (default .gpuhost/s18g, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz, export.test.xz,
# device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18g}; O=${OUT:-/tmp/s18g-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18g
echo "library built, PostgreSQL started: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 240 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUFusedMatchesCPU|TestGPUListsMatchCPU|TestGPUNumericTextMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUEncodeFaultsFallBack|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodePlain|TestGPUZstd$' 2>&1 \
  | grep -E '^(--- |ok|FAIL|PASS|panic)|seed|fell back|framed' | cut -c1-250)
echo "device tests: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 200 compute-sanitizer --tool memcheck --leak-check full \
  ../$K/device.test -test.run 'TestGPUMatchesCPU' 2>&1 | grep -E 'ERROR SUMMARY|LEAK SUMMARY|^(ok|FAIL|PASS)' | head -5)
echo "memcheck: $SECONDS s"
gpu_writer_halves
echo "total: $SECONDS s"
