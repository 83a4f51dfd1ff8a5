#!/bin/bash
# On the GPU host, from the repository root (session 11, first call): the CUDA library built
# with the ABI structs from device/cuda/pgpq_abi.h, the device's GPU tests, and
# compute-sanitizer (memcheck) over the kernels' tests, as make test-gpu runs it. No PostgreSQL.
#   KIT (default .gpuhost/s11a, carried): device.test.xz, nvcomp.tar.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11a}; O=${OUT:-/tmp/s11a-out}
mkdir -p "$O"
exec > >(tee -a "$O/s11a.log") 2>&1
nvidia-smi -L; date
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so")
echo "built: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 240 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUStart|TestGPUZstd$|TestGPUCodecs|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher|TestZstd' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -60)
echo "tests: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 240 \
  compute-sanitizer --tool memcheck --leak-check full ../$K/device.test \
  -test.run 'TestGPUMatchesCPU|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques' 2>&1 | tail -15)
echo "total: $SECONDS s"
