#!/bin/bash
# On the GPU host, from the repository root (session 21, the closing call): HEAD (receive buffers
# by decoder: 4 MiB on the GPU, 2 MiB on the CPU) against DuckDB, lineorder 40M and wide 10M,
# P=16, zstd, two rounds of the GPU writer, the CPU path and DuckDB 1.5.5 in one call
# (bench/gpuhost-r8.sh; CPU profiles of round 1), right after `bash
# bench/gpuhost-s15-duckdb.sh` installed DuckDB on the same warm machine.
#   KIT (default .gpuhost/s21h, carried): base files and pgparquet-c.xz (HEAD's binary).
set -uo pipefail
K=${KIT:-.gpuhost/s21h}; O=${OUT:-/tmp/s21h-out}
KIT=$K OUT=$O MODES="pages cpu duckdb" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh
