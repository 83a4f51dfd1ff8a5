#!/bin/bash
# On the GPU host, from the repository root (session 17, the closing call), right after
# bench/gpuhost-s15-duckdb.sh installed DuckDB on the same warm machine: bench/gpuhost-r8.sh
# (lineorder 40M and wide 10M, P=16, zstd, two rounds of source limit, GPU writer, CPU path and
# DuckDB 1.5.5, CPU profiles of round 1), then the GPU writer's RSS by mapping and CPU by
# thread on both tables (bench/rss-breakdown.py).
#   KIT (default .gpuhost/s17c, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17c}; O=${OUT:-/tmp/s17c-out}
mkdir -p "$O"
KIT=$K OUT=$O MODES="pages cpu duckdb" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
exec > >(tee -a "$O/s17c.log") 2>&1
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in lineorder wide; do
  echo "== $t, GPU writer, RSS by mapping and CPU by thread"
  PGPARQUET_NVCOMP_LIB=$nv python3 bench/rss-breakdown.py "$K/pgparquet-c" export --dsn "$dsn" --table $t \
    --output-dir /dev/shm/s17c-out --overwrite --parallel 16 --no-progress --gpu on --gpu-lib "$lib" 2>&1 | sed -n '1,5p;$p'
  rm -rf /dev/shm/s17c-out
done
echo "total: $SECONDS s"
