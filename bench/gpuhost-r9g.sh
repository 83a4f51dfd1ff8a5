#!/bin/bash
# On the GPU host, from the repository root (session 9, last call): the page encoder's GPU
# tests after its column description became a pgpq_enc_col plus the first block, with each
# $PGPARQUET_GPU_ENC_IO, and compute-sanitizer on them. KIT (default .gpuhost/r9g, carried):
# device.test.xz (CGO_ENABLED=1 -ldflags="-s -w"). No nvCOMP: pages compressed on the CPU.
set -uo pipefail
K=${KIT:-.gpuhost/r9g}; O=${OUT:-/tmp/r9g-out}
mkdir -p "$O"
exec > >(tee -a "$O/r9g.log") 2>&1
nvidia-smi -L; date
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -o "$K/libc.so" \
  device/cuda/pgcopy.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -5
lib=$(realpath "$K/libc.so")
for io in copy out mapped; do
  (cd device && PGPARQUET_GPU_ENC_IO=$io PGPARQUET_NVCOMP_LIB=off PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 90 ../$K/device.test -test.v \
    -test.run 'TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestGPUMatchesCPU' 2>&1 |
    grep -E '^(--- |PASS|FAIL|ok)|panic|fatal' | sed "s/^/$io: /")
done
(cd device && PGPARQUET_GPU_QUICK=1 PGPARQUET_NVCOMP_LIB=off PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run 'TestGPUPageEncoder|TestGPUEncodePlain' 2>&1 | tail -3)
echo "total: $SECONDS s"
