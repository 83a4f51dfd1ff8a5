#!/bin/bash
# On the GPU host, from the repository root (session 21): how the ctid ranges' count (--chunks)
# and the GPU's release at the export's end shape the wall time, and how busy the whole host
# is, PostgreSQL included. Lineorder 40M and wide 10M, P=16, zstd, two rounds (the second in
# reverse order), each after the source limit (with the host's busy CPU-s around it):
#   g64  the GPU writer as shipped (64 ranges: 4 per worker)
#   g16, g32  the GPU writer with --chunks 16 (one range per worker, as the source limit reads) and 32
#   g64k the GPU writer that leaves its pinned and device memory to the process's exit
#        ($PGPARQUET_MEASURE_NO_GPU_RELEASE, a measurement build's knob)
#   c64, c16  the CPU path (--gpu off), 64 and 16 ranges
# Each line: bench/gpuhost-split-run.py (wall split at the log's "export started"/"finished",
# the result's write and the exit).
#   KIT (default .gpuhost/s21a, carried): base files and pgparquet-m.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s21a}; O=${OUT:-/tmp/s21a-out}
source bench/gpuhost-prelude.sh
gpuhost_start s21a lineorder wide
source bench/gpuhost-source-limit.sh
busy() { python3 -c "import os; v=list(map(int,open('/proc/stat').readline().split()[1:])); print((sum(v[:8])-v[3]-v[4])/os.sysconf('SC_CLK_TCK'))"; }
run() { # TABLE ROUND LABEL
  local t=$1 r=$2 l=$3 args=() envs=()
  case $l in
    g64) ;; g16) args=(--chunks 16) ;; g32) args=(--chunks 32) ;;
    g64k) envs=(PGPARQUET_MEASURE_NO_GPU_RELEASE=1) ;;
    c64) args=(--gpu off) ;; c16) args=(--gpu off --chunks 16) ;;
  esac
  rm -rf /dev/shm/s21-out
  env PGPARQUET_NVCOMP_LIB="$nv" "${envs[@]}" python3 bench/gpuhost-split-run.py "$t r$r $l" "$K/pgparquet-m" export \
    --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s21-out --overwrite --parallel 16 \
    --gpu-lib "$lib" --no-progress --log-format json "${args[@]}"
}
labels="g64 g16 g32 g64k c64 c16"
for t in lineorder wide; do
  for r in 1 2; do
    b0=$(busy); source_limit "$t" 16; b1=$(busy)
    echo "  source limit's host busy CPU-s: $(python3 -c "print(round($b1-$b0,1))")"
    order=$labels; [ $r = 2 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
nproc; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
echo "total: $SECONDS s"
