#!/bin/bash
# On the GPU host, from the repository root (session 19): the CPU path (--gpu off) before and
# after PlainFragment copied runs of values without NULLs (commit 7de4430): lineorder 40M and
# wide 10M, P=16, zstd, two interleaved rounds with the source limit; speed, CPU, peak RSS.
# No GPU is used, so no CUDA library is built.
#   KIT (default .gpuhost/s19i, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   pgparquet-a.xz (before) and pgparquet-b.xz (after).
set -uo pipefail
K=${KIT:-.gpuhost/s19i}; O=${OUT:-/tmp/s19i-out}
mkdir -p "$O"
exec > >(tee -a "$O/s19i.log") 2>&1
pkill -x postgres; sleep 1
for f in pgparquet-a pgparquet-b; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=${ROWS:-40000000} bash "$K/make-lineorder.sh" lineorder || exit 1
WIDE_ROWS=${WIDE_ROWS:-10000000}; source bench/gpuhost-load-wide.sh; load_wide || exit 1
source bench/gpuhost-prelude.sh # ab_loop, cpu_export
ab_loop cpu_export a b
echo "total: $SECONDS s"
