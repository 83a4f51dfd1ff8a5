#!/bin/bash
# On the GPU host, from the repository root: the GPU page encoder (device/cuda/encode.cu) built
# with nvcc and compared with its CPU twin pqfile.PlainPages (TestGPUEncodePlain), then under
# compute-sanitizer. KIT .gpuhost/enc holds device.test.xz (go test -c -ldflags="-s -w" ./device).
set -uo pipefail
K=.gpuhost/enc
xz -dkf $K/device.test.xz && chmod +x $K/device.test
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -o $K/libenc.so device/cuda/pgcopy.cu device/cuda/encode.cu 2>&1 | tail -20 || exit 1
cd device && PGPARQUET_CUDA_LIB=$(realpath ../$K/libenc.so) PGPARQUET_REQUIRE_GPU=1 timeout 240 ../$K/device.test -test.run 'TestGPUEncodePlain|TestGPUMatchesCPU' -test.v 2>&1 | grep -v '^=== RUN' | tail -20
echo "== memcheck"
PGPARQUET_GPU_QUICK=1 PGPARQUET_CUDA_LIB=$(realpath ../$K/libenc.so) timeout 200 compute-sanitizer --tool memcheck ../$K/device.test -test.run 'TestGPUEncodePlain' 2>&1 | tail -5
