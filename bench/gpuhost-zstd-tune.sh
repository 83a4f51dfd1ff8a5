#!/bin/bash
# On the GPU host, from the repository root, with the kit of bench/gpuhost-zstd.sh: TestGPUZstd and
# TestGPUZstdTuning (the batcher's GB/s, pages per batch and device time per batch for 1-8
# runners and lingers 0-500 µs), in one short call.
K=.gpuhost; xz -dkf $K/device.test.xz && chmod +x $K/device.test
mkdir -p $K/nvcomp && tar -xJf $K/nvcomp.tar.xz -C $K/nvcomp
export PGPARQUET_NVCOMP_LIB=$(realpath $K/nvcomp/lib64/libnvcomp.so.6)
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I $K/nvcomp/include -o $K/libb.so device/cuda/pgcopy.cu device/cuda/nvcomp.cu || exit 1
lib=$(realpath $K/libb.so); dt=$(realpath $K/device.test)
cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 200 $dt -test.run 'TestGPUZstd(Tuning)?$' -test.v 2>&1 | grep -v '^=== RUN' | tail -20
