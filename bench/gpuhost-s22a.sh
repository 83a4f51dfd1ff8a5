#!/bin/bash
# On the GPU host, from the repository root (session 22): ranges of equal size against ranges
# that shrink in rounds (snapshot.Plan: largest first, each round of one range per worker half
# the size of the round before), both paths. Lineorder 40M and wide 10M, P=16, zstd, 64
# ranges, ROUNDS rounds (default 3, the order reversed in every other), each after the source
# limit:
#   g-eq, c-eq  the GPU writer and the CPU path (--gpu off) with equal ranges
#               ($PGPARQUET_PLAN=equal, a measure build's switch)
#   g-rd, c-rd  the same with shrinking ranges (as HEAD)
# Each line: bench/gpuhost-split-run.py, with the result's receive_s (first COPY to the end of
# the last) and receive_idle_s (the mean time a worker had no task left while others read).
#   KIT (default .gpuhost/s22a, carried): base files and pgparquet-m.xz (-tags measure; "planmeasure" when s22a and s22b ran).
#   NAME (log name, default s22a), TABLES (default "lineorder wide"), LABELS (default all four).
# s22b: NAME=s22b TABLES="wide lineorder" LABELS="g-eq g-rd" ROUNDS=4.
# s22e: NAME=s22e TABLES="wide lineorder" LABELS="g-rd g-q2 g-q3" ROUNDS=3: g-q2 and g-q3 let 2
#   and 3 filled buffers wait between a lane's receiver and its writer ($PGPARQUET_LANE_QUEUE;
#   HEAD 1), from the same shared pool of two 4 MiB buffers per worker.
set -uo pipefail
K=${KIT:-.gpuhost/s22a}; O=${OUT:-/tmp/s22a-out}; N=${NAME:-s22a}; T=${TABLES:-lineorder wide}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
source bench/gpuhost-source-limit.sh
run() { # TABLE ROUND LABEL
  local t=$1 r=$2 l=$3 args=() envs=()
  case $l in
    g-eq) envs=(PGPARQUET_PLAN=equal) ;; g-rd) ;;
    c-eq) envs=(PGPARQUET_PLAN=equal); args=(--gpu off) ;; c-rd) args=(--gpu off) ;;
    g-q2) envs=(PGPARQUET_LANE_QUEUE=2) ;; g-q3) envs=(PGPARQUET_LANE_QUEUE=3) ;;
  esac
  rm -rf /dev/shm/s22-out
  env PGPARQUET_NVCOMP_LIB="$nv" "${envs[@]}" python3 bench/gpuhost-split-run.py "$t r$r $l" "$K/pgparquet-m" export \
    --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s22-out --overwrite --parallel 16 \
    --gpu-lib "$lib" --no-progress --log-format json "${args[@]}"
}
labels=${LABELS:-g-eq g-rd c-eq c-rd}
for r in $(seq 1 "${ROUNDS:-3}"); do
  for t in $T; do
    source_limit "$t" 16
    order=$labels; [ $((r % 2)) = 0 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
nproc; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
echo "total: $SECONDS s"
