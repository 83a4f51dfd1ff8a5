#!/bin/bash
# On the GPU host, from the repository root (session 13): the exports as committed at the end
# of the session, in one call: (1) device.test's GPU tests (TestGPU*, as make test-gpu; with
# SANITIZE=1 also the differential tests under compute-sanitizer), (2) lineorder 40M and wide
# 10M, P=16, the GPU writer and the CPU path interleaved over 2 rounds with the source limit, Go
# heap from gctrace, CPU profiles of round 1 (bench/gpuhost-r8.sh; PIPELINE=pages adds the
# pipeline alone, which needs export.test.xz), (3) lineorder again with GOGC=100 against the
# export's GC percent of 50, 2 rounds, (4) the same values through every file path on wide (the
# GPU writer, the CPU twins, arrow-go's FileWriter), compared per column with device.test's
# TestCompareExports.
#   KIT (default .gpuhost/s13b, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz, device.test.xz (export.test.xz with PIPELINE=pages: the
#   four binaries do not fit in one call with the kit).
set -uo pipefail
K=${KIT:-.gpuhost/s13b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R/device"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 \
  ../$K/device.test -test.run 'TestGPU' -test.v 2>&1 | grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go:' | grep -v "^    " | tail -60) > "$R/device/tests.log"
if [ "${SANITIZE:-0}" = 1 ]; then
  (cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 240 compute-sanitizer --tool memcheck --leak-check full \
    ../$K/device.test -test.run 'TestGPUMatchesCPU|TestGPUListsMatchCPU|TestGPUPageEncoder|TestGPUUniques' 2>&1 | tail -15) >> "$R/device/tests.log"
fi
export GODEBUG=gctrace=1
KIT=$K OUT=$R/default TABLES="lineorder wide" MODES="pages cpu" ROUNDS=2 PIPELINE="${PIPELINE:-}" bash bench/gpuhost-r8.sh > /dev/null 2>&1
GOGC=100 KIT=$K OUT=$R/gogc100 REUSE=1 TABLES=lineorder MODES="pages cpu" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
unset GODEBUG
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # name gpu-mode VAR=value...
  local name=$1 gpu=$2; shift 2
  env "$@" "$K/pgparquet-c" export --dsn $dsn --table wide --output-dir "/dev/shm/$name" --overwrite --parallel 16 \
    --no-progress --gpu "$gpu" --gpu-lib "$lib" > "$R/values-$name.json" 2> "$R/values-$name.err"
  echo "values $name: rc $? $(grep -o '"rows": *[0-9]*' "$R/values-$name.json" | head -1)"
}
{
  run gpu on PGPARQUET_NVCOMP_LIB=$nv
  run twins off
  run arrow off PGPARQUET_PAGE_WRITER=off
  for other in twins arrow; do
    echo "gpu against $other:"
    (cd device && PGPARQUET_COMPARE_A=/dev/shm/gpu PGPARQUET_COMPARE_B=/dev/shm/$other timeout 200 ../$K/device.test \
      -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -30)
  done
  rm -rf /dev/shm/gpu /dev/shm/twins /dev/shm/arrow
} > "$R/values.log" 2>&1
cat "$R/device/tests.log"
for d in default gogc100; do grep -E "source limit|round|gctrace|pipeline alone|total" "$R/$d/r8.log" | sed "s/^/$d: /" | cut -c1-300; done
cat "$R/values.log"
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
