#!/bin/bash
# On the GPU host, from the repository root (session 15): where the GPU writer's peak RSS goes
# on wide 10M (P=16) after the session's memory changes (bench/rss-breakdown.py; the Go heap
# from gctrace; pinned memory by role from $PGPARQUET_CUDA_CALLSTATS), as committed and with
# 4 MiB of pages under way per lane. KIT (default .gpuhost/s15f): as bench/gpuhost-s15f.sh.
set -uo pipefail
K=${KIT:-.gpuhost/s15f}; O=${OUT:-/tmp/s15g-out}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s15g.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
source bench/gpuhost-load-wide.sh
load_wide || exit 1
for cfg in committed PGPARQUET_PAGES_IN_FLIGHT_MIB=4; do
  echo "== wide, GPU writer, $cfg"
  env $([ $cfg = committed ] || echo $cfg) RSS_STDERR="$O/stderr.log" GODEBUG=gctrace=1 PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_NVCOMP_LIB=$nv \
    python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn "$dsn" --table wide --output-dir /dev/shm/s15g-out --overwrite \
    --parallel 16 --no-progress --gpu on --gpu-lib "$lib"
  grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/stderr.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB"}'
  grep -v "^gc \|^time=\|^scvg" "$O/stderr.log" | cut -c1-200 | tail -40
  rm -rf /dev/shm/s15g-out "$O/stderr.log"
done
echo "total: $SECONDS s"
