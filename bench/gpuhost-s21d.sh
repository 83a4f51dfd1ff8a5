#!/bin/bash
# On the GPU host, from the repository root (session 21): what the receive buffers' size and the
# collector's pace do to peak RSS, speed and CPU (issue 12, item 7: peak RSS <= 1 GB on both
# paths; wide's was 0.93-1.03 GiB, 1.00-1.10 GB). Lineorder 40M and wide 10M, P=16, zstd, two
# rounds (the second in reverse order), each after the source limit:
#   g, c        the GPU writer and the CPU path as shipped (4 MiB receive buffers)
#   g2, c2      --buffer-size 2MiB
#   g2gc, c2gc  --buffer-size 2MiB and GOGC=25 (the exports then keep the environment's pace)
# Each line: bench/gpuhost-split-run.py. Then wide's peak RSS by kind (bench/rss-breakdown.py) and its
# pinned memory by role, GPU writer, 4 and 2 MiB.
#   KIT (default .gpuhost/s21d, carried): base files and pgparquet-c.xz (HEAD's binary).
set -uo pipefail
K=${KIT:-.gpuhost/s21d}; O=${OUT:-/tmp/s21d-out}
source bench/gpuhost-prelude.sh
gpuhost_start s21d lineorder wide
source bench/gpuhost-source-limit.sh
run() { # TABLE ROUND LABEL
  local t=$1 r=$2 l=$3 args=() envs=()
  case $l in c*) args=(--gpu off) ;; esac
  case $l in *2*) args+=(--buffer-size 2MiB) ;; esac
  case $l in *gc) envs=(GOGC=25) ;; esac
  rm -rf /dev/shm/s21-out
  env PGPARQUET_NVCOMP_LIB="$nv" "${envs[@]}" python3 bench/gpuhost-split-run.py "$t r$r $l" "$K/pgparquet-c" export \
    --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s21-out --overwrite --parallel 16 \
    --gpu-lib "$lib" --no-progress --log-format json "${args[@]}"
}
labels="g g2 g2gc c c2 c2gc"
for t in wide lineorder; do
  for r in 1 2; do
    source_limit "$t" 16
    order=$labels; [ $r = 2 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
for b in 4MiB 2MiB; do # where wide's peak RSS goes (bench/rss-breakdown.py), GPU writer
  echo "== wide, GPU writer, --buffer-size $b: RSS by kind at its peak"
  rm -rf /dev/shm/s21-out
  PGPARQUET_NVCOMP_LIB="$nv" PGPARQUET_CUDA_CALLSTATS=1 RSS_STDERR=/dev/shm/s21-rss.err python3 bench/rss-breakdown.py "$K/pgparquet-c" export \
    --dsn postgres://postgres@127.0.0.1:5432/postgres --table wide --output-dir /dev/shm/s21-out --overwrite --parallel 16 \
    --gpu-lib "$lib" --no-progress --buffer-size $b | head -20
  grep "^pinned memory" /dev/shm/s21-rss.err
done
echo "total: $SECONDS s"
