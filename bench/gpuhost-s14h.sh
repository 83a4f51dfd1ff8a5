#!/bin/bash
# On the GPU host, from the repository root (session 14): string columns written PLAIN get their
# pages' bytes and min and max rows from the decoder's fused call too (PGPQ_FUSE_BYTES).
# (1) device.test: TestGPUFusedMatchesCPU twice and under compute-sanitizer's memcheck;
# (2) bench/gpuhost-r8.sh: lineorder 40M and wide 10M, P=16, source limit and the GPU writer
# over 2 rounds, CPU profiles of round 1; (3) wide's values through the GPU writer and the CPU
# twins (TestCompareExports).
#   KIT (default .gpuhost/s14h, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14h}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
{
  cd device
  for i in 1 2; do
    PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 120 ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' -test.v 2>&1 | grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | head -20
  done
  PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck --leak-check full ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' 2>&1 | tail -6
  cd ..
} > "$R/tests.log" 2>&1
cat "$R/tests.log"
KIT=$K OUT=$R/r8 TABLES="lineorder wide" MODES="pages" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -E "source limit|round|total" "$R/r8/r8.log" | cut -c1-260
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
dsn=postgres://postgres@127.0.0.1:5432/postgres
for mode in gpu twins; do
  env PGPARQUET_NVCOMP_LIB=$nv $([ $mode = twins ] && echo PGPARQUET_PAGE_WRITER=cpu) "$K/pgparquet-c" export --dsn $dsn --table wide \
    --output-dir /dev/shm/$mode --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib" > /dev/null 2> "$R/values-$mode.err"
  echo "values $mode: rc $?"
done
(cd device && PGPARQUET_COMPARE_A=/dev/shm/gpu PGPARQUET_COMPARE_B=/dev/shm/twins timeout 200 ../$K/device.test \
  -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -30)
rm -rf /dev/shm/gpu /dev/shm/twins
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
