#!/bin/bash
# On the GPU host, from the repository root (session 20, the closing call), right after
# bench/gpuhost-s15-duckdb.sh installed DuckDB on the same warm machine: bench/gpuhost-r8.sh
# with HEAD's binary (libzstd on the CPU; the GPU writer's fixed-width pages in 256 KiB zstd
# frames, its other pages in 128 KiB): lineorder 40M and wide 10M, P=16, zstd, two rounds of
# the GPU writer, the CPU path and DuckDB 1.5.5 in one call; CPU profiles of round 1.
#   KIT (default .gpuhost/s20g, carried): base files (nvcomp.tar.xz too) and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20g}; O=${OUT:-/tmp/s20h-out}
KIT=$K OUT=$O MODES="pages cpu duckdb" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh
