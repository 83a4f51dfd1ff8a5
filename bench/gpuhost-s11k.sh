#!/bin/bash
# On the GPU host, from the repository root (session 11, last call): the GPU writer as
# committed (row groups written at their end) on lineorder 40M and wide 10M, P=16, 2 rounds
# each with the source limit (bench/gpuhost-r8.sh), then lineorder again with one sealed row
# group per lane ($PGPARQUET_SEALED_ROW_GROUPS=1), for peak RSS and speed side by side.
#   KIT (default .gpuhost/s11k, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11k}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
KIT=$K OUT=$R/default MODES=pages ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
PGPARQUET_SEALED_ROW_GROUPS=1 KIT=$K OUT=$R/sealed1 REUSE=1 TABLES=lineorder MODES=pages ROUNDS=2 PIPELINE="" \
  bash bench/gpuhost-r8.sh > /dev/null 2>&1
for d in default sealed1; do grep -E "source limit|round|total" "$R/$d/r8.log" | sed "s/^/$d: /"; done
tar -cf "$O/$N.tar" -C "$R" .
