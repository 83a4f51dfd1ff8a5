#!/bin/bash
# On the GPU host, from the repository root (session 20): the GPU tests on HEAD, whose GPU
# writer compresses zstd in 256 KiB frames (commit f7f79d4) and whose CPU zstd is libzstd:
#   - the device's GPU tests on fresh seeds (decoders, fused finishing, lists, numeric text,
#     page encoder, grouping, zstd and the other batchers, injected failures);
#   - compute-sanitizer memcheck on nvCOMP's zstd batches (TestGPUZstd, -ZstdFaultFallsBack);
#   - the produce halves of TestGPUWriterRandomTables and TestGPUWriterStatisticsAreTrue, left in
#     $OUT/random.tar.xz and $OUT/stats.tar.xz to check here as bench/gpuhost-s17b.sh says;
#   - if the call has time left (under 300 s so far), the pipeline alone (TestPipelineAlone,
#     lineorder 40M, P=16) with 256 KiB frames and with 128 KiB, two interleaved rounds.
# KIT (default .gpuhost/s20e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
# nvcomp.tar.xz, export.test.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20e}; O=${OUT:-/tmp/s20e-out}
source bench/gpuhost-prelude.sh
gpuhost_start s20e
echo "library built, PostgreSQL started: $SECONDS s"
device_gpu_tests
echo "device tests: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run '^TestGPU(Zstd|ZstdFaultFallsBack)$' 2>&1 | grep -E 'ERROR SUMMARY|LEAK SUMMARY|^(ok|FAIL|PASS)' | head -5)
echo "memcheck: $SECONDS s"
gpu_writer_halves
echo "produce halves: $SECONDS s"
if [ "$SECONDS" -lt 300 ]; then
  ROWS=${ROWS:-40000000} bash "$K/make-lineorder.sh" lineorder || exit 1
  for round in 1 2; do
    for f in 256 128; do
      pipeline_alone "r$round ${f} KiB frames" "$lib" PGPARQUET_GPU_ZSTD_BATCH=32,4,$f
    done
  done
fi
echo "total: $SECONDS s"
