#!/bin/bash
# On the GPU host, from the repository root (session 14): JSON columns written PLAIN get their
# pages' bytes from the decoder's fused call too. device.test's TestGPUFusedMatchesCPU twice
# and under compute-sanitizer's memcheck; wide (WIDE_ROWS, default 5M), P=16: the GPU writer
# twice and the CPU twins, the same values (TestCompareExports).
#   KIT (default .gpuhost/s14i, carried): pg15.tar.xz, start-pg.sh, wide.sql, nvcomp.tar.xz,
#   pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14i}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; WIDE_ROWS=${WIDE_ROWS:-5000000}
mkdir -p "$O"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
{
  cd device
  for i in 1 2; do
    PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 60 ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' -test.v 2>&1 | grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | head -20
  done
  PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 90 compute-sanitizer --tool memcheck --leak-check full ../$K/device.test -test.run '^TestGPUFusedMatchesCPU$' 2>&1 | tail -4
  cd ..
  export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
  export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
  bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
  source bench/gpuhost-load-wide.sh
  load_wide || exit 1
  dsn=postgres://postgres@127.0.0.1:5432/postgres
  for mode in gpu gpu2 twins; do
    python3 bench/gpuhost-export-run.py "$mode" env PGPARQUET_NVCOMP_LIB=$nv $([ $mode = twins ] && echo PGPARQUET_PAGE_WRITER=cpu) "$K/pgparquet-c" export --dsn $dsn \
      --table wide --output-dir /dev/shm/$mode --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib"
  done
  (cd device && PGPARQUET_COMPARE_A=/dev/shm/gpu PGPARQUET_COMPARE_B=/dev/shm/twins timeout 60 ../$K/device.test \
    -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -10)
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
