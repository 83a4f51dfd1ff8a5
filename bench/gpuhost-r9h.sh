#!/bin/bash
# On the GPU host, from the repository root (session 9): does the Go scheduler's spinning cost
# the GPU writer CPU? lineorder (40M rows, P=16), the GPU writer with GOMAXPROCS 16 (the
# default on that host), 8 and 4, interleaved over two rounds, CPU time split by thread
# (bench/gpuhost-threads.sh), and the source limit. KIT (default .gpuhost/r9h, carried): as
# r9a's, without device.test.
set -uo pipefail
K=${KIT:-.gpuhost/r9h}; O=${OUT:-/tmp/r9h-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/r9h.log") 2>&1
nproc; nvidia-smi -L; date
BINARIES="pgparquet-c"
source bench/gpuhost-r8-setup.sh
source bench/gpuhost-source-limit.sh
source bench/gpuhost-threads.sh
source_limit lineorder $P
args="export --dsn $dsn --table lineorder --output-dir /dev/shm/r9h-out --overwrite --parallel 16 --no-progress --gpu on --gpu-lib $lib"
for round in 1 2; do
  for procs in 16 8 4; do
    GOMAXPROCS=$procs PGPARQUET_NVCOMP_LIB=$nv tmeasure "round $round GOMAXPROCS=$procs gpu writer" "$K/pgparquet-c" $args
    rm -rf /dev/shm/r9h-out
  done
done
source_limit lineorder $P
echo "total: $SECONDS s"
