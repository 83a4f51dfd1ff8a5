#!/bin/bash
# On the GPU host, from the repository root (session 23): a CLI export's files start with the
# GPU writer's CPU twin while the GPU starts, and take the GPU's encoder at a later row group
# (g-now, as HEAD), against files that wait for the GPU's start (g-wait: PGPARQUET_INTERIM=off,
# a measure build's switch). Lineorder 40M and wide 10M, P=16, zstd, ROUNDS rounds (default 4,
# the order reversed in every other), each after the source limit; each line from
# bench/gpuhost-split-run.py. Then, per table, one export of each with every log line timed
# from the launch, and the g-now export's files against the CPU path's (bench/gpuhost-compare.py:
# the same schema and values, column by column, with pyarrow).
# The timed log lines came from an inline copy of bench/gpuhost-timeline.py when it ran.
# It ran at ef6fe4a; 38cb041 took the CPU twin's start out again (0.25-0.33 GiB more peak RSS).
#   KIT (default .gpuhost/s23a, carried): base files and pgparquet-m.xz (-tags measure). NAME (log name, default s23a), TABLES (default "lineorder wide").
set -uo pipefail
K=${KIT:-.gpuhost/s23a}; O=${OUT:-/tmp/s23a-out}; N=${NAME:-s23a}; T=${TABLES:-lineorder wide}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
envs_of() { case $1 in g-wait) echo PGPARQUET_INTERIM=off ;; *) echo PGPARQUET_INTERIM=on ;; esac; }
run() { # TABLE ROUND LABEL
  rm -rf /dev/shm/s23-out
  env PGPARQUET_NVCOMP_LIB="$nv" $(envs_of "$3") python3 bench/gpuhost-split-run.py "$1 r$2 $3" "$K/pgparquet-m" export \
    --dsn $dsn --table "$1" --output-dir /dev/shm/s23-out --overwrite --parallel 16 --gpu-lib "$lib" --no-progress --log-format json
}
labels="g-wait g-now"
for r in $(seq 1 "${ROUNDS:-4}"); do
  for t in $T; do
    source_limit "$t" 16
    order=$labels; [ $((r % 2)) = 0 ] && order="g-now g-wait"
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
timeline() { # TABLE LABEL DIR: the export's log lines timed from its launch
  echo "== $1 $2 timeline"
  env PGPARQUET_NVCOMP_LIB="$nv" $(envs_of "$2") python3 bench/gpuhost-timeline.py "$K/pgparquet-m" "$1" "$lib" "$3"
}
for t in $T; do
  timeline "$t" g-wait /dev/shm/s23-wait
  timeline "$t" g-now /dev/shm/s23-gpu
  "$K/pgparquet-m" export --dsn $dsn --table "$t" --output-dir /dev/shm/s23-cpu --overwrite --parallel 16 --no-progress --gpu off > /dev/null 2>&1 || echo "cpu export failed"
  key=id; [ "$t" = lineorder ] && key=lo_orderkey,lo_linenumber
  timeout 300 python3 bench/gpuhost-compare.py /dev/shm/s23-gpu /dev/shm/s23-cpu $key
  rm -rf /dev/shm/s23-wait /dev/shm/s23-gpu /dev/shm/s23-cpu
done
nproc; lscpu | grep -E "^(Model name|Thread|Core|Socket)"
echo "total: $SECONDS s"
