#!/bin/bash
# On the GPU host, from the repository root (session 11): where the GPU writer's peak RSS goes
# (bench/rss-breakdown.py, with the Go heap from gctrace), lineorder 40M and wide 10M, P=16, as
# committed, and lineorder with 4 MiB of pages under way per lane instead of 16
# ($PGPARQUET_PAGES_IN_FLIGHT_MIB). KIT as bench/gpuhost-r8.sh's (pgparquet-c.xz, nvcomp,
# pg15, start-pg.sh, make-lineorder.sh, wide.sql). Log in $OUT.
set -uo pipefail
K=${KIT:-.gpuhost/s11k}; O=${OUT:-/tmp/s11l-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s11l.log") 2>&1
BINARIES=pgparquet-c source bench/gpuhost-r8-setup.sh
source bench/gpuhost-load-wide.sh
load_wide || exit 1
breakdown() { # LABEL TABLE [ENV=VALUE...]
  local label=$1 t=$2; shift 2
  echo "== $label"
  env "$@" RSS_STDERR="$O/$label-gctrace.log" GODEBUG=gctrace=1 PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" \
    export --dsn "$dsn" --table "$t" --output-dir /dev/shm/s11l-out --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib"
  grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/$label-gctrace.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB"}'
  rm -rf /dev/shm/s11l-out "$O/$label-gctrace.log"
}
breakdown lineorder lineorder
breakdown lineorder-inflight4 lineorder PGPARQUET_PAGES_IN_FLIGHT_MIB=4
breakdown wide wide
echo "total: $SECONDS s"
