#!/bin/bash
# On the GPU host, from the repository root (session 9, third call): the page encoder's GPU
# tests with each $PGPARQUET_GPU_ENC_IO (copy, the default; out; mapped), then lineorder (40M
# rows, P=16): the source limit (psql over the Unix socket), the GPU writer over TCP (twice,
# one profiled) and over the Unix socket, the CPU path over both, CPU time split by thread
# (bench/gpuhost-threads.sh), and the GPU writer's peak RSS by kind (bench/rss-breakdown.py).
#   KIT (default .gpuhost/r9c, carried): as r9a's.
set -uo pipefail
K=${KIT:-.gpuhost/r9c}; O=${OUT:-/tmp/r9c-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/r9c.log") 2>&1
nproc; nvidia-smi -L; date
BINARIES="pgparquet-c device.test"
source bench/gpuhost-r8-setup.sh
echo "setup done: $SECONDS s"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 ../$K/device.test -test.v \
  -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUZstd$|TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestBatcher|TestGroupsOf' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go' | tail -40)
echo "tests done: $SECONDS s"
for io in out mapped; do
  (cd device && PGPARQUET_GPU_ENC_IO=$io PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 60 ../$K/device.test \
    -test.run 'TestGPUEncodePlain|TestGPUPageEncoder' 2>&1 | tail -1 | sed "s/^/PGPARQUET_GPU_ENC_IO=$io: /")
done
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_QUICK=1 timeout 100 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run 'TestGPUPageEncoder|TestGPUUniques' 2>&1 | tail -3)
echo "sanitizer done: $SECONDS s"
source bench/gpuhost-source-limit.sh
source_limit lineorder $P
source bench/gpuhost-threads.sh
args="export --dsn $dsn --table lineorder --output-dir /dev/shm/r9c-out --overwrite --parallel 16 --no-progress --gpu-lib $lib"
run() { # LABEL [VAR=value...]; EXTRA: more export flags
  local l=$1; shift
  ( [ $# -gt 0 ] && export "$@"; export PGPARQUET_NVCOMP_LIB=$nv; tmeasure "$l" "$K/pgparquet-c" $args $EXTRA )
  rm -rf /dev/shm/r9c-out
}
EXTRA="--gpu on --cpu-profile $O/lineorder-gpu-writer.pprof" run "lineorder gpu writer (profiled)"
EXTRA="--gpu on" run "lineorder gpu writer"
EXTRA="--gpu off" run "lineorder cpu"
usock="export --dsn postgres:///postgres?host=/tmp/pgsock&user=postgres --table lineorder --output-dir /dev/shm/r9c-out --overwrite --parallel 16 --no-progress --gpu-lib $lib"
args0=$args; args=$usock
EXTRA="--gpu on --cpu-profile $O/lineorder-gpu-writer-unix.pprof" run "lineorder gpu writer, Unix socket (profiled)"
EXTRA="--gpu on" run "lineorder gpu writer, Unix socket"
EXTRA="--gpu off" run "lineorder cpu, Unix socket"
args=$args0
RSS_STDERR="$O/gctrace.log" GODEBUG=gctrace=1 PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" $args --gpu on | head -8
grep -o '[0-9]*->[0-9]*->[0-9]* MB' "$O/gctrace.log" | tr -d ' MB' | awk -F'->' '$1>a{a=$1} $3>c{c=$3} END{print "    Go heap: largest when a collection starts", a, "MB, largest live after one", c, "MB"}'
rm -rf /dev/shm/r9c-out
echo "total: $SECONDS s"
