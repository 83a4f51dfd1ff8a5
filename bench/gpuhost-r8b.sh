#!/bin/bash
# The second call of a pair on one warm GPU host, right after bench/gpuhost-r8.sh (whose kit,
# library and PostgreSQL with its tables it reuses): installs DuckDB and its postgres extension
# from carried cp312 wheels, runs the device's differential and fault tests on the GPU and
# compute-sanitizer on them, then per table the source limit, the GPU writer, the CPU path and
# DuckDB in this one call (bench/gpuhost-r8.sh with REUSE=1).
#   KIT_B (default .gpuhost/r8b, carried): wheels/*.whl, device.test.xz. KIT: the first call's.
set -uo pipefail
KB=${KIT_B:-.gpuhost/r8b}; K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8-out}
mkdir -p "$O"
exec > >(tee -a "$O/r8b.log") 2>&1
date
python3 -m pip install --no-deps --no-index -q --break-system-packages "$KB"/wheels/*.whl 2>&1 | tail -2
python3 -c 'import duckdb; print("duckdb", duckdb.__version__)'
if [ -f "$K/libc.so" ]; then
  lib=$(realpath "$K/libc.so"); nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
  xz -dkf "$KB/device.test.xz" && chmod +x "$KB/device.test"
  echo "== differential tests"
  (cd device && PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 300 ../$KB/device.test \
    -test.run 'TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestGPUMatchesCPU|TestGPUParquetFiles|TestGPUCodecs|TestGPUZstd$|TestGPUCUDAErrorsFallBack' -test.v 2>&1 | grep -E '^(--- |FAIL|PASS|ok|panic)|gpu_test' | tail -40)
  echo "== memcheck"
  (cd device && PGPARQUET_GPU_QUICK=1 PGPARQUET_NVCOMP_LIB=off PGPARQUET_CUDA_LIB=$lib timeout 200 compute-sanitizer --tool memcheck \
    ../$KB/device.test -test.run 'TestGPUPageEncoder|TestGPUUniques|TestGPUMatchesCPU' 2>&1 | tail -4)
else
  echo "no $K/libc.so: the first call's kit is gone (machine not warm)"; exit 1
fi
REUSE=1 MODES="${MODES:-pages cpu duckdb}" ROUNDS=${ROUNDS:-1} PIPELINE="" bash bench/gpuhost-r8.sh
echo "== where the GPU writer's peak RSS goes (lineorder, P=16; Go's heap in r8-gctrace.log)"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
for w in pages off; do
  RSS_STDERR="$O/r8-gctrace-$w.log" GODEBUG=gctrace=1 PGPARQUET_PAGE_WRITER=$([ $w = off ] && echo off) PGPARQUET_NVCOMP_LIB=$nv \
    python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder \
    --output-dir /dev/shm/r8-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress
  grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/r8-gctrace-$w.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB (page writer '$w')"}'
  rm -rf /dev/shm/r8-out
done
