#!/bin/bash
# On the GPU host, from the repository root (session 14): the page encoder's fragments and the
# string grouping fused into the decoder's finishing call (pgpq_finish_fused,
# device/cuda_fused.go). (1) device.test: TestGPUFusedMatchesCPU three times (fresh seeds),
# every TestGPU* test (make test-gpu), and TestGPUFusedMatchesCPU under compute-sanitizer's
# memcheck; (2) lineorder (ROWS, default 40M) and wide (WIDE_ROWS, default 5M), P=16, the GPU
# writer fused against $PGPARQUET_GPU_FUSED=off, interleaved, user and system CPU apart, the
# CUDA library's counters on one run of each ($PGPARQUET_CUDA_CALLSTATS); (3) the same values
# (TestCompareExports) fused and through the CPU twins ($PGPARQUET_PAGE_WRITER=cpu), both tables.
#   KIT (default .gpuhost/s14e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14e}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000} WIDE_ROWS=${WIDE_ROWS:-5000000}
mkdir -p "$O"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
{
  cd device
  for i in 1 2 3; do
    PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 120 ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' -test.v 2>&1 | grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | head -20
  done
  PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 240 ../$K/device.test -test.run 'TestGPU' -test.v 2>&1 | grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | grep -v "^    " | tail -40
  PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 200 compute-sanitizer --tool memcheck --leak-check full ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' 2>&1 | tail -6
  cd ..
} 2>&1 | tee "$O/$N-tests.log"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label table out VAR=value...
  local label=$1 table=$2 out=$3; shift 3
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 bench/gpuhost-export-run.py "$label" "$K/pgparquet-c" export --dsn $dsn --table "$table" \
    --output-dir "$out" --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress
}
{
  for t in lineorder wide; do
    for round in 1 2; do
      run "$t fused" $t /dev/shm/s14e
      run "$t unfused" $t /dev/shm/s14e PGPARQUET_GPU_FUSED=off
    done
    run "$t fused, callstats" $t /dev/shm/s14e PGPARQUET_CUDA_CALLSTATS=1
    run "$t unfused, callstats" $t /dev/shm/s14e PGPARQUET_GPU_FUSED=off PGPARQUET_CUDA_CALLSTATS=1
    run "$t fused, kept" $t /dev/shm/fused
    run "$t CPU twins, kept" $t /dev/shm/twins PGPARQUET_PAGE_WRITER=cpu
    echo "$t fused against the CPU twins:"
    (cd device && PGPARQUET_COMPARE_A=/dev/shm/fused PGPARQUET_COMPARE_B=/dev/shm/twins timeout 200 ../$K/device.test \
      -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -30)
    rm -rf /dev/shm/fused /dev/shm/twins /dev/shm/s14e
  done
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
