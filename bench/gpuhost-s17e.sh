#!/bin/bash
# On the GPU host, from the repository root (session 17): does the GPU writer still spend less
# CPU with fewer Ps (session 9, older code: GOMAXPROCS=4 took 10% less CPU on lineorder and ran
# 0-8% faster)? Lineorder 40M and wide 10M, P=16, zstd, two interleaved rounds of the source
# limit and the GPU writer at GOMAXPROCS 16 (the host's cores), 8, 6 and 4; then the GPU
# writer's CPU by thread name (bench/rss-breakdown.py) at 16 and 4 on lineorder.
#   KIT (default .gpuhost/s17c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17c}; O=${OUT:-/tmp/s17e-out}
source bench/gpuhost-prelude.sh
gpuhost_start s17e lineorder wide
nproc
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in lineorder wide; do
  echo "== $t"
  for round in 1 2; do
    source_limit $t 16
    for procs in 16 8 6 4; do
      GOMAXPROCS=$procs PGPARQUET_NVCOMP_LIB=$nv measure "$t r$round gpu writer GOMAXPROCS=$procs" "$K/pgparquet-c" export --dsn $dsn \
        --table $t --output-dir /dev/shm/s17e-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time="
      rm -rf /dev/shm/s17e-out
    done
  done
done
for procs in 16 4; do
  echo "== lineorder, GPU writer, GOMAXPROCS=$procs, RSS and CPU by thread"
  GOMAXPROCS=$procs PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn "$dsn" --table lineorder \
    --output-dir /dev/shm/s17e-out --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib" 2>&1 | sed -n '1,4p;$p'
  rm -rf /dev/shm/s17e-out
done
echo "total: $SECONDS s"
