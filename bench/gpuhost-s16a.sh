#!/bin/bash
# On the GPU host, from the repository root (session 16): where the GPU writer's Go heap goes
# on wide 10M (P=16), with nvCOMP's pinned output sized from a batch (not from the device's
# output slots), under settings that hold less at once: a heap profile at the live heap's peak
# (binary built with -tags memprobe), RSS by mapping (bench/rss-breakdown.py, with wall and CPU
# time), pinned memory by role. Then the device's GPU tests (compression batchers included).
# KIT (default .gpuhost/s16a): base files, pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16a}; O=${OUT:-/tmp/s16a-out}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16a.log") 2>&1
pkill -x postgres; sleep 1
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
echo "library built: $SECONDS s"
echo "== device tests"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 ../$K/device.test -test.v \
  -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|NumericTextMatchesCPU|EncodePlain|PageEncoder|Uniques|Zstd|Codecs)$' 2>&1 |
  grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go' | head -40)
echo "device tests: $SECONDS s"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
source bench/gpuhost-load-wide.sh
load_wide || exit 1
run() { # name, env...
  local name=$1; shift
  echo "== wide, GPU writer, $name"
  env "$@" RSS_STDERR="$O/stderr.log" GODEBUG=gctrace=1 PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_NVCOMP_LIB=$nv \
    PGPARQUET_HEAP_PROFILE="$O/heap-$name.prof" \
    python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn "$dsn" --table wide --output-dir /dev/shm/s16a-out --overwrite \
    --parallel 16 --no-progress --gpu on --gpu-lib "$lib" | head -5
  grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/stderr.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB; collections", NR}'
  grep -E "^pinned|cudaMallocHost|nvCOMP compress|level=(WARN|ERROR)" "$O/stderr.log" | cut -c1-200
  du -sb /dev/shm/s16a-out | awk '{print "    Parquet bytes", $1}'
  rm -rf /dev/shm/s16a-out "$O/stderr.log"
}
run committed X=1
run inflight4 PGPARQUET_PAGES_IN_FLIGHT_MIB=4
run page512 PGPARQUET_PAGE_KIB=512
run inflight4-page512 PGPARQUET_PAGES_IN_FLIGHT_MIB=4 PGPARQUET_PAGE_KIB=512
run inflight4-limit600 PGPARQUET_PAGES_IN_FLIGHT_MIB=4 GOMEMLIMIT=600MiB
run committed2 X=1
echo "== CPU path"
RSS_STDERR="$O/stderr.log" python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn "$dsn" --table wide --output-dir /dev/shm/s16a-out --overwrite \
    --parallel 16 --no-progress --gpu off | head -4
rm -rf /dev/shm/s16a-out
(cd "$O" && tar -cJf heap-profiles.tar.xz heap-*.prof && rm -f heap-*.prof)
echo "total: $SECONDS s"
