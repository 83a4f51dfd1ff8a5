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
gpu_writer_halves
echo "total: $SECONDS s"
