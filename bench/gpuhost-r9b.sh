#!/bin/bash
# On the GPU host, from the repository root (session 9, second call): the GPU tests of the
# uniques on a hash table (pgpq_uniq_first_run) and of the page encoder, one compute-sanitizer
# pass, then lineorder (40M rows, P=16): the source limit, the GPU writer (twice, once under
# bench/rss-breakdown.py with gctrace), the encoder with every buffer copied
# ($PGPARQUET_GPU_ENC_IO=copy) and the CPU path, CPU time split by thread
# (bench/gpuhost-threads.sh), a CPU profile.
#   KIT (default .gpuhost/r9b, carried): as r9a's.
set -uo pipefail
K=${KIT:-.gpuhost/r9b}; O=${OUT:-/tmp/r9b-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/r9b.log") 2>&1
nproc; nvidia-smi -L; date
BINARIES="pgparquet-c device.test"
source bench/gpuhost-r8-setup.sh
echo "setup done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUZstd$|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher|TestGroupsOf' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -40)
echo "tests done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 120 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run 'TestGPUUniques|TestGPUEncodeFaultsFallBack' 2>&1 | tail -4)
echo "sanitizer done: $SECONDS s"
source bench/gpuhost-source-limit.sh
source_limit lineorder $P
source bench/gpuhost-threads.sh
args="export --dsn $dsn --table lineorder --output-dir /dev/shm/r9b-out --overwrite --parallel 16 --no-progress --gpu-lib $lib"
run() { # LABEL [VAR=value...]; EXTRA: more export flags
  local l=$1; shift
  ( [ $# -gt 0 ] && export "$@"; export PGPARQUET_NVCOMP_LIB=$nv; tmeasure "$l" "$K/pgparquet-c" $args $EXTRA )
  rm -rf /dev/shm/r9b-out
}
EXTRA="--gpu on --cpu-profile $O/lineorder-gpu-writer.pprof" run "lineorder gpu writer (profiled)"
EXTRA="--gpu on" run "lineorder gpu writer"
EXTRA="--gpu on" run "lineorder gpu writer, encoder io copy" PGPARQUET_GPU_ENC_IO=copy
EXTRA="--gpu off" run "lineorder cpu"
EXTRA="--gpu on" run "lineorder gpu writer"
RSS_STDERR="$O/gctrace.log" GODEBUG=gctrace=1 PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" $args --gpu on | head -8
grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/gctrace.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB"}'
rm -rf /dev/shm/r9b-out
echo "total: $SECONDS s"
