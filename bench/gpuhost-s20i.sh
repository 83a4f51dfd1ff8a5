#!/bin/bash
# On the GPU host, from the repository root (session 20): the produce halves of
# TestGPUWriterRandomTables and TestGPUWriterStatisticsAreTrue on HEAD (fixed-width pages in
# 256 KiB zstd frames, the others in 128 KiB, in the same batches), left in $OUT/random.tar.xz
# and $OUT/stats.tar.xz to check here as bench/gpuhost-s17b.sh says.
#   KIT (default .gpuhost/s20i, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20i}; O=${OUT:-/tmp/s20i-out}
source bench/gpuhost-prelude.sh
gpuhost_start s20i
dsn=postgres://postgres@127.0.0.1:5432/postgres
R=/dev/shm/s20-random S=/dev/shm/s20-stats
rm -rf "$R" "$S" && mkdir -p "$R" "$S"
(cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_RANDOM_DSN=$dsn PGPARQUET_GPU_RANDOM_OUT=$R \
  timeout 150 ../$K/export.test -test.run '^TestGPUWriterRandomTables$' -test.v 2>&1 | grep -v '^=== RUN' | grep -v '^time=' | cut -c1-300 | tail -12)
tar -C "$R" -cJf "$O/random.tar.xz" . && ls -l "$O/random.tar.xz"
(cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_STATS_DSN=$dsn PGPARQUET_GPU_STATS_OUT=$S \
  timeout 150 ../$K/export.test -test.run '^TestGPUWriterStatisticsAreTrue$' -test.v 2>&1 | grep -v '^=== RUN' | grep -v '^time=' | cut -c1-300 | tail -8)
tar -C "$S" -cJf "$O/stats.tar.xz" . && ls -l "$O/stats.tar.xz"
echo "total: $SECONDS s"
