#!/bin/bash
# On the GPU host, from the repository root (session 12): the exports as committed, after the
# CPU decoder's arrays without builders (gpuparse/list.go) and the lanes' dictionaries of
# text[] elements (export/dictionary.go): lineorder 40M and wide 10M, P=16, the GPU writer and
# the CPU path interleaved over 2 rounds with the source limit (bench/gpuhost-r8.sh), CPU
# profiles of round 1 (bench/cpusplit).
#   KIT (default .gpuhost/s12e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz. TABLES and MODES as gpuhost-r8.sh takes them (default
#   "lineorder wide", "pages cpu"): gpuhost-s12f.sh and -s12g.sh are this with others.
set -uo pipefail
K=${KIT:-.gpuhost/s12e}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
grep -m1 -o 'sha_ni' /proc/cpuinfo || echo "no sha_ni"; grep -m1 'model name' /proc/cpuinfo
KIT=$K OUT=$R/default TABLES="${TABLES:-lineorder wide}" MODES="${MODES:-pages cpu}" ROUNDS=2 PIPELINE="" \
  bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -E "source limit|round|total" "$R/default/r8.log"
tar -cf "$O/$N.tar" -C "$R" .
