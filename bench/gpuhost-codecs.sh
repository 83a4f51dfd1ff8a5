#!/bin/bash
# On the GPU host (no Go, no pyarrow there), from the repository root: GPU compression of
# Parquet pages for every codec nvCOMP takes (zstd, LZ4_RAW, snappy, gzip) checked and measured
# in one call, logs in $OUT/codecs.log.
#   KIT (default .gpuhost, git-ignored, carried) holds device.test.xz (built here:
#   go test -c -ldflags="-s -w" -o .gpuhost/device.test ./device && xz -f .gpuhost/device.test)
#   and nvcomp.tar.xz (include/ and lib64/libnvcomp.so.6 of the nvidia-libnvcomp-cu13 wheel).
# Checks: the CPU twins; TestGPUCodecs (per codec: pages of 1 byte to the largest the codec
# takes, alone and from 16 goroutines, each decoded by arrow-go's codec to exactly the page; a
# Parquet file written through the GPU read back by arrow-go; the batcher's GB/s on up to 1 GB
# of 1 MiB pages against arrow-go's codec on 16 cores); TestGPUZstd and TestGPUStart as before;
# one compute-sanitizer memcheck pass over the pages. The Parquet files land in $OUT/parquet:
# back on a machine with the test venv, have pyarrow and DuckDB read them with
#   PGPARQUET_GPU_PARQUET_DIR=<that folder> go test -count=1 -v -run TestGPUParquetFiles ./device
set -uo pipefail
K=${KIT:-.gpuhost}; O=${OUT:-/tmp/codecs-out}
mkdir -p "$O/parquet" "$O/dump"
exec > >(tee "$O/codecs.log") 2>&1
nproc; nvidia-smi -L
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
export PGPARQUET_NVCOMP_LIB=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
t0=$SECONDS
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libcodecs.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu || exit 1
echo "nvcc: $((SECONDS - t0)) s"
export PGPARQUET_CUDA_LIB=$(realpath "$K/libcodecs.so") PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_CODECS=lz4,snappy,gzip
dt=$(realpath "$K/device.test")
cd device
echo "== CPU twins and registration"
timeout 90 "$dt" -test.run '^(TestBatcherCPUTwins|TestZstdBatcherCPUTwin|TestCodecsRegistered|TestZstdCodecRegistered|TestGzipPages|TestDeviceCompression)$' -test.v 2>&1 \
  | grep -v '^=== RUN'
echo "== GPU: every codec (round trips, Parquet, throughput), zstd, start"
PGPARQUET_DUMP_DIR="$O/dump" PGPARQUET_GPU_PARQUET_DIR="$O/parquet" timeout 300 "$dt" -test.run '^TestGPU(Start|Zstd|Codecs)$' -test.v -test.timeout 290s 2>&1 \
  | grep -v '^=== RUN' | grep -v 'failed earlier'
echo "== compute-sanitizer memcheck (pages only, LZ4_RAW, snappy, gzip)"
PGPARQUET_GPU_QUICK=1 timeout 90 compute-sanitizer --tool memcheck --leak-check full \
  "$dt" -test.run '^TestGPUCodecs$/^(lz4|snappy|gzip|gzip-nvcomp)$' 2>&1 | grep -v 'GB/s\|^=== RUN' | tail -8
echo "== Parquet files for pyarrow and DuckDB (TestGPUParquetFiles)"
ls -la "$O/parquet" "$O/dump"
if python3 -c 'import pyarrow, duckdb' 2>/dev/null; then
  PGPARQUET_PYTHON=python3 PGPARQUET_GPU_PARQUET_DIR="$O/parquet" timeout 120 "$dt" -test.run '^TestGPUParquetFiles$' -test.v 2>&1 | grep -v '^=== RUN'
else
  echo "no pyarrow/duckdb here: run TestGPUParquetFiles on the files in parquet/ where they are"
fi
echo "total: $SECONDS s"
