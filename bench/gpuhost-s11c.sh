#!/bin/bash
# On the GPU host, right after gpuhost-s11b.sh on the same (warm) machine: the pipeline alone
# (TestPipelineAlone) on lineorder and wide with the defaults (traces), then lineorder with
# 128 MiB of pages under way per lane ($PGPARQUET_PAGES_IN_FLIGHT_MIB), all tarred.
#   KIT (default .gpuhost/s11c, carried): export.test.xz; nvCOMP, the CUDA library and
#   PostgreSQL come from gpuhost-s11b.sh's kit and run (BASE, default .gpuhost/s11b).
set -uo pipefail
K=${KIT:-.gpuhost/s11c}; N=$(basename "$K"); B=${BASE:-.gpuhost/s11b}; O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
[ -f "$B/libc.so" ] || { echo "no $B/libc.so: the machine is not the one gpuhost-s11b.sh ran on"; exit 1; }
ln -sfn "$(realpath "$B/nvcomp")" "$K/nvcomp"; cp "$B/libc.so" "$K/libc.so"; ln -f "$B/nvcomp.tar.xz" "$K/" 2>/dev/null || cp "$B/nvcomp.tar.xz" "$K/"
KIT=$K OUT=$R/default REUSE=1 ROUNDS=0 MODES="" TRACE=1 PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
PGPARQUET_PAGES_IN_FLIGHT_MIB=128 KIT=$K OUT=$R/inflight128 REUSE=1 ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages \
  bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -h "pipeline" "$R"/*/r8.log
tar -cf "$O/$N.tar" -C "$R" .
