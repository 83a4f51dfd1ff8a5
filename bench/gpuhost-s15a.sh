#!/bin/bash
# On the GPU host, from the repository root (session 15): nvCOMP's batched zstd compression
# alone (bench/nvcompbench), on uncompressed Parquet pages of lineorder and wide written by
# pgparquet (--compression none): batch time by chunks and chunk size, temp sizing, batches on
# several streams at once, and whether a launch waits for another stream.
#   KIT (default .gpuhost/s15a, carried): nvcomp.tar.xz, corpus.bin.xz (lineorder pages),
#   wide.bin.xz (wide pages).
set -uo pipefail
K=${KIT:-.gpuhost/s15a}; O=${OUT:-/tmp/s15a-out}
mkdir -p "$O"
exec > >(tee "$O/nvcompbench.log") 2>&1
nproc; nvidia-smi -L; which nsys ncu compute-sanitizer
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
xz -dkf "$K/corpus.bin.xz" "$K/wide.bin.xz"
nvcc -O3 -arch=sm_90 -I "$K/nvcomp/include" -o "$K/nvcompbench" bench/nvcompbench/nvcompbench.cu \
  -L "$K/nvcomp/lib64" -l:libnvcomp.so.6 -Xlinker -rpath -Xlinker "$(realpath "$K/nvcomp/lib64")" || exit 1
timeout 400 "$K/nvcompbench" "$K/corpus.bin" "$K/wide.bin"
echo "total: $SECONDS s"
