#!/bin/bash
# On the GPU host, from the repository root (session 10, last call): the device's GPU tests of
# compression and page encoding with the defaults as committed (4 zstd batchers of 32 MiB,
# 32 KiB frames for single pages, packed output), no PostgreSQL.
#   KIT (default .gpuhost/r10j, carried): device.test.xz, nvcomp.tar.xz.
set -uo pipefail
K=${KIT:-.gpuhost/r10j}; O=${OUT:-/tmp/r10j-out}
mkdir -p "$O"
exec > >(tee -a "$O/r10j.log") 2>&1
nvidia-smi -L; date
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so")
echo "built: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUZstd$|TestGPUCodecs|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher|TestZstd' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -40)
echo "total: $SECONDS s"
