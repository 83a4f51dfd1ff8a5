#!/bin/bash
# On the GPU host, from the repository root (session 20), right after bench/gpuhost-s15-duckdb.sh
# installed DuckDB on the same warm machine: bench/gpuhost-r8.sh with HEAD's binary (the CPU
# path's zstd is libzstd since 273f5a4): lineorder 40M and wide 10M, P=16, zstd, two rounds of
# the GPU writer (128 KiB zstd frames, as committed, and 256 KiB), the CPU path and DuckDB 1.5.5:
# speed, CPU, peak RSS and Parquet bytes in one call. CPU profiles of round 1.
#   KIT (default .gpuhost/s20b, carried): base files (nvcomp.tar.xz too) and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20b}; O=${OUT:-/tmp/s20b-out}
KIT=$K OUT=$O MODES="pages pagesx cpu duckdb" PAGESX=PGPARQUET_GPU_ZSTD_BATCH=32,4,256 ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh
