#!/bin/bash
# On the GPU host, from the repository root (session 22, the closing call): HEAD (ranges that
# shrink in rounds, largest first) against DuckDB, lineorder 40M and wide 10M, P=16, zstd, two
# rounds of the GPU writer (CLI), the CPU path (CLI), DuckDB 1.5.5 and a request to the sidecar
# (GPU) in one call (bench/gpuhost-r8.sh; CPU profiles of round 1), right after `bash
# bench/gpuhost-s15-duckdb.sh` installed DuckDB on the same warm machine.
#   KIT (default .gpuhost/s22d, carried): base files and pgparquet-c.xz (HEAD's binary).
# s23g (session 23's closing call): KIT=.gpuhost/s23g, the binary of 85410a8.
set -uo pipefail
K=${KIT:-.gpuhost/s22d}; O=${OUT:-/tmp/s22d-out}
KIT=$K OUT=$O MODES="pages cpu duckdb sidecar" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh
