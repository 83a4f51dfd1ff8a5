#!/bin/bash
# On the GPU host, from the repository root (session 10): the device's GPU tests (nvCOMP
# batchers with packed output, gathering while runners are busy), compute-sanitizer on the
# codecs, then the pipeline alone (TestPipelineAlone, lineorder 40M rows, P=16) swept over the
# zstd batchers' size and count ($PGPARQUET_GPU_ZSTD_BATCH "MIB,BATCHERS[,FRAME_KIB]"), each
# with an execution trace (bench/traceregions).
#   KIT (default .gpuhost/r10d, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh. CONFIGS overrides the sweep.
set -uo pipefail
K=${KIT:-.gpuhost/r10d}; O=${OUT:-/tmp/r10d-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/r10d.log") 2>&1
nproc; nvidia-smi -L; date
BINARIES="export.test device.test"
source bench/gpuhost-r8-setup.sh
echo "setup done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUZstd$|TestGPUCodecs|TestGPUParquetFiles|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -40)
echo "tests done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_QUICK=1 timeout 150 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run 'TestGPUCodecs|TestGPUZstd$' 2>&1 | tail -4)
echo "sanitizer done: $SECONDS s"
SETUP=0 KIT=$K OUT=$O CONFIGS="${CONFIGS:-default 32,2 64,2 32,4 64,4 128,4}" bash bench/gpuhost-r10c.sh
echo "total: $SECONDS s"
