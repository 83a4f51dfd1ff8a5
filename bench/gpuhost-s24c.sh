#!/bin/bash
# On the GPU host, from the repository root (session 24): where wide's and lineorder's peak RSS
# goes (issue 12, item 7), P=16, zstd: bench/rss-breakdown.py's RSS by kind at the peak, the
# pinned memory by role ($PGPARQUET_CUDA_CALLSTATS), the Go heap at each collection
# (GODEBUG=gctrace=1: its largest heap at a collection's start, and its goal), and a heap
# profile taken at the live heap's peak (a measure build's $PGPARQUET_PEAK_HEAP_PROFILE), to
# $O/TABLE-PATH-heap.pprof. PATHS (default "gpu cpu"): the GPU writer, the CPU path.
#   KIT (default .gpuhost/s24c, carried): base files and pgparquet-m.xz (-tags measure).
set -uo pipefail
K=${KIT:-.gpuhost/s24c}; O=${OUT:-/tmp/s24c-out}; N=${NAME:-s24c}; T=${TABLES:-wide lineorder}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
for t in $T; do
  for p in ${PATHS:-gpu cpu}; do
    echo "== $t, $p: RSS by kind at its peak"
    rm -rf /dev/shm/s24-out
    env PGPARQUET_NVCOMP_LIB="$nv" PGPARQUET_CUDA_CALLSTATS=1 GODEBUG=gctrace=1 PGPARQUET_PEAK_HEAP_PROFILE="$O/$t-$p-heap.pprof" \
      RSS_STDERR=/dev/shm/s24-rss.err python3 bench/rss-breakdown.py "$K/pgparquet-m" export \
      --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s24-out --overwrite --parallel 16 \
      --gpu-lib "$lib" --no-progress --gpu "$([ "$p" = gpu ] && echo on || echo off)" > /dev/shm/s24-rss.out
    head -12 /dev/shm/s24-rss.out
    grep "^pinned memory" /dev/shm/s24-rss.err
    grep "^gc " /dev/shm/s24-rss.err | awk '{split($11, h, "->"); if (h[1]+0 > m) m = h[1]+0; if ($13+0 > g) g = $13+0; n++}
      END {printf "Go heap: %d collections, largest heap at a collection'"'"'s start %d MB, largest goal %d MB\n", n, m, g}'
    grep "^gc " /dev/shm/s24-rss.err | tail -3
  done
done
rm -rf /dev/shm/s24-out
echo "total: $SECONDS s"
