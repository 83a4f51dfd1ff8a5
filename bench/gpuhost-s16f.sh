#!/bin/bash
# On the GPU host, from the repository root (session 16, the closing call): whole exports
# (P=16, zstd) of lineorder 40M and wide 10M as committed (the GPU writer with GC percent 35
# while it gathers string pages in Go memory, 512 KiB string pages), in three rounds of source
# limit, GPU writer, CPU path; the GPU writer's RSS by mapping and pinned memory by role on
# wide; last, wide's files from the GPU writer and the CPU path hold the same values
# (TestCompareExports). DEVICE_TESTS=1 runs the device's GPU tests first.
#   KIT (default .gpuhost/s16f): base files, pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16f}; O=${OUT:-/tmp/s16f-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16f.log") 2>&1
pkill -x postgres; sleep 1
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
if [ "${DEVICE_TESTS:-0}" = 1 ]; then echo "== device tests"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 ../$K/device.test -test.v \
  -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|NumericTextMatchesCPU|EncodePlain|PageEncoder|Uniques|Zstd)$' 2>&1 |
  grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go' | head -40)
echo "device tests: $SECONDS s"; fi
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in lineorder wide; do
  echo "== $t"
  for round in 1 2 3; do
    source_limit $t 16
    PGPARQUET_NVCOMP_LIB=$nv GODEBUG=gctrace=1 measure "$t r$round gpu writer" "$K/pgparquet-c" export --dsn $dsn --table $t \
      --output-dir /dev/shm/s16f-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time="
    GODEBUG=gctrace=1 measure "$t r$round cpu path" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s16f-out \
      --overwrite --parallel 16 --gpu off --no-progress | grep -v "^ *time="
  done
done
echo "== wide, GPU writer, RSS by mapping"
RSS_STDERR="$O/stderr.log" PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" export \
  --dsn "$dsn" --table wide --output-dir /dev/shm/cmp-gpu --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib" 2>&1 | head -6
grep -E "^pinned|cudaMallocHost" "$O/stderr.log"; rm -f "$O/stderr.log"
"$K/pgparquet-c" export --dsn $dsn --table wide --output-dir /dev/shm/cmp-cpu --overwrite --parallel 16 --no-progress --gpu off > /dev/null 2>&1 || echo "cpu export failed"
(cd device && PGPARQUET_COMPARE_A=/dev/shm/cmp-gpu PGPARQUET_COMPARE_B=/dev/shm/cmp-cpu timeout 90 ../$K/device.test \
  -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -10)
echo "total: $SECONDS s"
