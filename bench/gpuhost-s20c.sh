#!/bin/bash
# On the GPU host, from the repository root (session 20): the CPU path (--gpu off) before and
# after its zstd went from the Go encoder to libzstd (commit 273f5a4): lineorder 40M and wide
# 10M, P=16, zstd, two interleaved rounds with the source limit; speed, CPU, peak RSS, bytes.
# Reuses PostgreSQL and the tables of bench/gpuhost-s20b.sh on a warm machine, else loads them.
#   KIT (default .gpuhost/s20c, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   pgparquet-a.xz (82bedab) and pgparquet-b.xz (273f5a4).
set -uo pipefail
K=${KIT:-.gpuhost/s20c}; O=${OUT:-/tmp/s20c-out}
mkdir -p "$O"
exec > >(tee -a "$O/s20c.log") 2>&1
for f in pgparquet-a pgparquet-b; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
pg_isready -q || { pkill -x postgres; sleep 1; bash "$K/start-pg.sh" "$K" > /dev/null || exit 1; }
ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
[ "$(psql -Atc 'SELECT count(*) FROM lineorder' 2>/dev/null)" = "$ROWS" ] || ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
[ "$(psql -Atc 'SELECT count(*) FROM wide' 2>/dev/null)" = "$WIDE_ROWS" ] || load_wide || exit 1
source bench/gpuhost-prelude.sh # ab_loop, cpu_export
ab_loop cpu_export a b
echo "total: $SECONDS s"
