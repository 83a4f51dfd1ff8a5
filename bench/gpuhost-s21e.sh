#!/bin/bash
# On the GPU host, from the repository root (session 21, the closing call): HEAD (receive buffers
# of 2 MiB by default) against DuckDB, lineorder 40M and wide 10M, P=16, zstd, three rounds of
# the GPU writer, the CPU path and DuckDB 1.5.5 in one call (bench/gpuhost-r8.sh; CPU profiles
# of round 1), then the pipeline alone on lineorder (TestPipelineAlone) with 2 MiB and 4 MiB
# buffers. Run right after a call of `bash bench/gpuhost-s15-duckdb.sh` with
# KIT=.gpuhost/s21duck on the same warm machine, which installs DuckDB and leaves
# export.test.xz in /root/s21-stash (both do not fit in this call beside the kit). The first
# run's pipeline part failed (an environment word from a substitution): PIPELINE_ONLY=1 re-ran it.
#   KIT (default .gpuhost/s21e, carried): base files and pgparquet-c.xz (HEAD's binary).
set -uo pipefail
K=${KIT:-.gpuhost/s21e}; O=${OUT:-/tmp/s21e-out}
cp /root/s21-stash/export.test.xz "$K/" || { echo "no export.test.xz in /root/s21-stash"; exit 1; }
# PIPELINE_ONLY=1: only the pipeline alone, on the warm machine of an earlier run (PostgreSQL up).
[ "${PIPELINE_ONLY:-0}" = 1 ] && { mkdir -p "$O"; xz -dkf "$K/export.test.xz" && chmod +x "$K/export.test"; }
[ "${PIPELINE_ONLY:-0}" = 1 ] || KIT=$K OUT=$O MODES="pages cpu duckdb" ROUNDS=3 PIPELINE="" bash bench/gpuhost-r8.sh
source bench/gpuhost-cuda-lib.sh
cuda_lib
exec >> "$O/r8.log" 2>&1
for b in default 4194304; do
  echo "== pipeline alone, lineorder, receive buffers: $b"
  buf=(); [ $b != default ] && buf=(PGPARQUET_PIPELINE_BUFFER=$b)
  (cd export && env PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=postgres://postgres@127.0.0.1:5432/postgres \
    PGPARQUET_PIPELINE_TABLE=lineorder PGPARQUET_PIPELINE_PARALLEL=16 PGPARQUET_PIPELINE_OUT=/dev/shm/r8-pipe \
    "${buf[@]}" PGPARQUET_PIPELINE_JSON="$O/lineorder-pipeline-$b.json" \
    timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline_test|PASS|FAIL|panic|GPU compression' | head -20)
  rm -rf /dev/shm/r8-pipe
done
echo "total: $SECONDS s"
