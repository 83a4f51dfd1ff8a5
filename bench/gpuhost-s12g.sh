#!/bin/bash
# On the GPU host, from the repository root (session 12): the CPU path through the GPU
# writer's file path on its CPU twins (pqfile.CPUPlain: the default without a GPU since this
# session) against arrow-go's FileWriter ($PGPARQUET_PAGE_WRITER=off, the CPU path before),
# with the GPU writer beside them: wide 10M and lineorder 40M, P=16, interleaved over 2 rounds
# with the source limit (bench/gpuhost-r8.sh), CPU profiles of round 1 (bench/cpusplit).
#   KIT (default .gpuhost/s12g, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s12g}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
grep -m1 -o 'sha_ni' /proc/cpuinfo || echo "no sha_ni"; grep -m1 'model name' /proc/cpuinfo
KIT=$K OUT=$R/default TABLES="wide lineorder" MODES="pages cpu cpuarrow" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -E "source limit|round|total" "$R/default/r8.log"
tar -cf "$O/$N.tar" -C "$R" .
