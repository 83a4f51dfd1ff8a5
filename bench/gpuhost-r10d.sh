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
for cfg in ${CONFIGS:-default 32,2 64,2 32,4 64,4 128,4}; do # MIB,BATCHERS[,KIB]
  v=$cfg; [ "$cfg" = default ] && v=""
  (cd export && PGPARQUET_GPU_ZSTD_BATCH=$v PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
    PGPARQUET_PIPELINE_TABLE=lineorder PGPARQUET_PIPELINE_PARALLEL=$P PGPARQUET_PIPELINE_OUT=/dev/shm/r10d-pipe \
    PGPARQUET_PIPELINE_JSON="$O/pipeline-${cfg//,/-}.json" PGPARQUET_PIPELINE_TRACE="$O/pipeline-${cfg//,/-}.trace" \
    timeout 120 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline alone|FAIL|panic' | sed "s/^/$cfg: /")
  rm -rf /dev/shm/r10d-pipe
done
xz -T8 "$O"/*.trace
echo "total: $SECONDS s"
