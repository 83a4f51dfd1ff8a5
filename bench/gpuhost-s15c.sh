#!/bin/bash
# On the GPU host, from the repository root (session 15): the pipeline alone (P=16) on
# lineorder 40M and wide 10M with sealed row groups ($PGPARQUET_SEALED_ROW_GROUPS: a lane goes
# on to its next row group while the last one's pages compress), with the zstd batcher and
# pages-in-flight settings of s15b. The s14 traces showed the lanes waiting at each row group's
# end (122880 rows, about 10 MB of lineorder pages) for a whole nvCOMP batch (about 41 ms).
#   KIT (default .gpuhost/s15c, carried): as bench/gpuhost-s15b.sh.
set -uo pipefail
K=${KIT:-.gpuhost/s15c}
CONFIGS=${CONFIGS:-"default
s2 PGPARQUET_SEALED_ROW_GROUPS=2
s8 PGPARQUET_SEALED_ROW_GROUPS=8 TRACE=1
s8b32x8 PGPARQUET_SEALED_ROW_GROUPS=8 PGPARQUET_GPU_ZSTD_BATCH=32,8
s8b64x8f32 PGPARQUET_SEALED_ROW_GROUPS=8 PGPARQUET_GPU_ZSTD_BATCH=64,8 PGPARQUET_PAGES_IN_FLIGHT_MIB=32
s8b32x8k64 PGPARQUET_SEALED_ROW_GROUPS=8 PGPARQUET_GPU_ZSTD_BATCH=32,8,64"} KIT=$K OUT=${OUT:-/tmp/s15c-out} bash bench/gpuhost-s15b.sh
