#!/bin/bash
# On the GPU host, from the repository root: the GPU writer's peak RSS and where it goes
# (bench/rss-breakdown.py), lineorder 40M, P=16, 2 rounds, with the CPU path once for the
# same host. KIT as bench/gpuhost-r8.sh's (pgparquet-c.xz, nvcomp, pg15). Log in $OUT.
set -uo pipefail
K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8f-out}; ROWS=${ROWS:-40000000}
mkdir -p "$O"
exec > >(tee -a "$O/r8f.log") 2>&1
BINARIES=pgparquet-c source bench/gpuhost-r8-setup.sh
source bench/gpuhost-measure.sh
args="export --dsn $dsn --table lineorder --output-dir /dev/shm/r8f-out --overwrite --parallel 16 --no-progress"
for round in 1 2; do
  PGPARQUET_NVCOMP_LIB=$nv measure "round $round lineorder gpu writer" "$K/pgparquet-c" $args --gpu on --gpu-lib "$lib"; rm -rf /dev/shm/r8f-out
done
measure "lineorder cpu" "$K/pgparquet-c" $args --gpu off; rm -rf /dev/shm/r8f-out
RSS_STDERR="$O/r8f-gctrace.log" GODEBUG=gctrace=1 PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" $args --gpu on --gpu-lib "$lib"
grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/r8f-gctrace.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB"}'
echo "total: $SECONDS s"
