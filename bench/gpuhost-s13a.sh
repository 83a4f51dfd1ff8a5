#!/bin/bash
# On the GPU host, from the repository root (session 13): peak RSS and CPU after the export's
# GC percent of 50 (export/memlimit.go) and CPU zstd frames of their size (device/codecs.go):
# lineorder 40M and wide 10M, P=16, the GPU writer and the CPU path, one round with the source
# limit (bench/gpuhost-r8.sh), Go heap from gctrace; then lineorder again with GOGC=100 (as
# before), with GOMAXPROCS=8 (fewer Ps than lanes: less scheduler work?) and with 512 KiB GPU
# writer pages ($PGPARQUET_PAGE_KIB).
#   KIT (default .gpuhost/s13a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s13a}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
export GODEBUG=gctrace=1
KIT=$K OUT=$R/default TABLES="lineorder wide" MODES="pages cpu" ROUNDS=1 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
GOGC=100 KIT=$K OUT=$R/gogc100 REUSE=1 TABLES=lineorder MODES="pages cpu" ROUNDS=1 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
GOMAXPROCS=8 KIT=$K OUT=$R/procs8 REUSE=1 TABLES=lineorder MODES="pages cpu" ROUNDS=1 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
PGPARQUET_PAGE_KIB=512 KIT=$K OUT=$R/p512 REUSE=1 TABLES=lineorder MODES=pages ROUNDS=1 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
for d in default gogc100 procs8 p512; do grep -E "source limit|round|gctrace|total" "$R/$d/r8.log" | sed "s/^/$d: /" | cut -c1-300; done
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
