#!/bin/bash
# On the GPU host, from the repository root (session 15, the closing call): the device's GPU
# tests (the decoders, the fused finishing call, the page encoder and grouping; memcheck on
# the list and fused ones), then whole exports (bench/gpuhost-r8.sh, P=16, zstd, lineorder 40M
# and wide 10M) in two rounds, each round the committed settings (GPU writer, CPU path,
# DuckDB when bench/gpuhost-s15-duckdb.sh installed it) and the GPU writer with sealed row
# groups and fewer pages in flight (PGPARQUET_SEALED_ROW_GROUPS=2,
# PGPARQUET_PAGES_IN_FLIGHT_MIB=8); last, wide through the GPU writer and the CPU path hold
# the same values (TestCompareExports).
#   KIT (default .gpuhost/s15f, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql, nvcomp.tar.xz, pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s15f}; R=${OUT:-/tmp/s15f-out}
mkdir -p "$R"
exec > >(tee -a "$R/s15f.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
echo "== device tests"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 ../$K/device.test -test.v \
  -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|NumericTextMatchesCPU|EncodePlain|PageEncoder|Uniques)$' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | head -40)
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 120 compute-sanitizer --tool memcheck --leak-check full \
  ../$K/device.test -test.run '^TestGPU(ListsMatchCPU|FusedMatchesCPU)$' 2>&1 | tail -4)
echo "device tests: $SECONDS s"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
reuse=0
for round in 1 2; do
  KIT=$K OUT=$R/committed-$round REUSE=$reuse ROUNDS=1 MODES="pages cpu $([ $round = 1 ] && echo duckdb)" PIPELINE="" \
    bash bench/gpuhost-r8.sh > /dev/null 2>&1
  reuse=1
  PGPARQUET_SEALED_ROW_GROUPS=2 PGPARQUET_PAGES_IN_FLIGHT_MIB=8 KIT=$K OUT=$R/sealed-$round REUSE=1 ROUNDS=1 MODES=pages \
    PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
  for s in committed sealed; do
    grep -E "source limit|round 1|duckdb" "$R/$s-$round/r8.log" | sed "s/^/$s r$round: /" | cut -c1-230
  done
done
dsn=postgres://postgres@127.0.0.1:5432/postgres
for mode in gpu cpu; do
  PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table wide --output-dir /dev/shm/cmp-$mode --overwrite --parallel 16 --no-progress \
    --gpu $([ $mode = gpu ] && echo on || echo off) --gpu-lib "$lib" > /dev/null 2>&1 || echo "$mode export failed"
done
(cd device && PGPARQUET_COMPARE_A=/dev/shm/cmp-gpu PGPARQUET_COMPARE_B=/dev/shm/cmp-cpu timeout 60 ../$K/device.test \
  -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -10)
find "$R" -name '*.pprof' -delete
(cd "$R" && tar cJf r8logs.tar.xz */r8.log && rm -rf committed-* sealed-*)
echo "total: $SECONDS s"
