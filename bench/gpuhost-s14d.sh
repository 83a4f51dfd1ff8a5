#!/bin/bash
# On the GPU host, from the repository root (session 14): where the GPU writer's peak RSS goes
# with receive buffers of 4 and 8 MiB (8 MiB took 8% less CPU in s14b-c but 1.28-1.31 GiB
# against 0.92): RSS by mapping at its peak (bench/rss-breakdown.py), the Go heap (gctrace), the
# pinned memory by role and the CUDA library's calls ($PGPARQUET_CUDA_CALLSTATS). Lineorder
# (ROWS, default 40M), P=16; 8 MiB also with pages of 512 KiB ($PGPARQUET_PAGE_KIB).
#   KIT (default .gpuhost/s14d, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14d}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000}
mkdir -p "$O"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label buffer-size VAR=value...
  local label=$1 buf=$2; shift 2
  echo "== $label"
  env PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_CALLSTATS=1 GODEBUG=gctrace=1 RSS_STDERR=/tmp/s14d.err "$@" \
    python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn $dsn --table lineorder --output-dir /dev/shm/s14d \
    --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress --buffer-size "$buf"
  python3 - /tmp/s14d.err <<'PY'
import re, sys
t = open(sys.argv[1]).read()
gcs = [tuple(map(int, m.groups())) for m in re.finditer(r' (\d+)->(\d+)->(\d+) MB', t)]
if gcs: print(f"    gctrace: {len(gcs)} collections, heap at most {max(g[0] for g in gcs)} MB, live after one at most {max(g[2] for g in gcs)} MB")
for line in t.splitlines():
    if line.startswith(("CUDA call", "cuda", "pgpq_", "nvCOMP", "stream", "open/", "pinned")): print("   ", line)
PY
  rm -rf /dev/shm/s14d
}
{
  run "4 MiB" 4MiB
  run "8 MiB" 8MiB
  run "8 MiB, pages of 512 KiB" 8MiB PGPARQUET_PAGE_KIB=512
  run "4 MiB, pages of 512 KiB" 4MiB PGPARQUET_PAGE_KIB=512
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
