#!/bin/bash
# On the GPU host, from the repository root (session 9, first call): the GPU tests of the
# fused page encoder (one launch per batch, pinned buffers read and written in place) and of
# the batcher's pieces (pages copied to the device from their own buffers), one
# compute-sanitizer pass, then lineorder (40M rows, P=16) exported by the GPU writer (twice;
# once more with $PGPARQUET_GPU_ENC_STAGED=1, the encoder's copies as before) and the CPU
# path, with CPU time split by thread (bench/gpuhost-threads.sh) and a CPU profile.
#   KIT (default .gpuhost/r9a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz, device.test.xz (CGO_ENABLED=1 -ldflags="-s -w").
set -uo pipefail
K=${KIT:-.gpuhost/r9a}; O=${OUT:-/tmp/r9a-out}; ROWS=${ROWS:-40000000}
mkdir -p "$O"
exec > >(tee -a "$O/r9a.log") 2>&1
nproc; nvidia-smi -L; date
BINARIES="pgparquet-c device.test"
source bench/gpuhost-r8-setup.sh
echo "setup done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 240 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUStart|TestGPUZstd$|TestGPUCodecs|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher|TestEncodeLargeFramesParts' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -60)
echo "tests done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck --leak-check full \
  ../$K/device.test -test.run 'TestGPUEncodePlain|TestGPUPageEncoder' 2>&1 | tail -8)
echo "sanitizer done: $SECONDS s"
source bench/gpuhost-threads.sh
run() { # LABEL [env...] -- export args
  local l=$1; shift
  ( [ $# -gt 0 ] && export "$@"; export PGPARQUET_NVCOMP_LIB=$nv
    tmeasure "$l" "$K/pgparquet-c" export --dsn $dsn --table lineorder --output-dir /dev/shm/r9a-out \
      --overwrite --parallel 16 --no-progress --gpu-lib "$lib" $EXTRA )
  rm -rf /dev/shm/r9a-out
}
EXTRA="--gpu on --cpu-profile $O/lineorder-gpu-writer.pprof" run "lineorder gpu writer (profiled)"
EXTRA="--gpu on" run "lineorder gpu writer"
EXTRA="--gpu on" run "lineorder gpu writer, encoder staged" PGPARQUET_GPU_ENC_STAGED=1
EXTRA="--gpu off" run "lineorder cpu"
EXTRA="--gpu on" run "lineorder gpu writer"
echo "total: $SECONDS s"
