#!/bin/bash
# On the GPU host, from the repository root (session 17): the produce halves of
# TestGPUWriterRandomTables (a fresh random table of every GPU kind, every codec, through the
# GPU writer and the CPU path; export/gpurandom_test.go) and TestGPUWriterStatisticsAreTrue,
# left in $OUT/random.tar.xz and $OUT/stats.tar.xz to check here:
#   mkdir -p /tmp/s17-random && tar -xJf OUT/random.tar.xz -C /tmp/s17-random
#   PGPARQUET_GPU_RANDOM_DIR=/tmp/s17-random go test -count=1 -v -run TestGPUWriterRandomTables ./export
#   (and the same for stats.tar.xz with PGPARQUET_GPU_STATS_DIR and TestGPUWriterStatisticsAreTrue)
# KIT (default .gpuhost/s17r, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17r}; O=${OUT:-/tmp/s17b-out}
mkdir -p "$O"
exec > >(tee -a "$O/s17b.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/export.test.xz" && chmod +x "$K/export.test"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
echo "library built: $SECONDS s"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
R=/dev/shm/s17-random S=/dev/shm/s17-stats
rm -rf "$R" "$S" && mkdir -p "$R" "$S"
for run in 1 2; do
  echo "== TestGPUWriterRandomTables, produce half, run $run"
  rm -rf "$R" && mkdir -p "$R"
  (cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_RANDOM_DSN=$dsn PGPARQUET_GPU_RANDOM_OUT=$R \
    timeout 200 ../$K/export.test -test.run '^TestGPUWriterRandomTables$' -test.v 2>&1 | grep -v '^=== RUN' | grep -v '^time=' | cut -c1-300 | tail -30)
  tar -C "$R" -cJf "$O/random$run.tar.xz" . && ls -l "$O/random$run.tar.xz"
done
echo "== TestGPUWriterStatisticsAreTrue, produce half"
(cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_STATS_DSN=$dsn PGPARQUET_GPU_STATS_OUT=$S \
  timeout 200 ../$K/export.test -test.run '^TestGPUWriterStatisticsAreTrue$' -test.v 2>&1 | grep -v '^=== RUN' | grep -v '^time=' | cut -c1-300 | tail -20)
tar -C "$S" -cJf "$O/stats.tar.xz" . && ls -l "$O/stats.tar.xz"
echo "total: $SECONDS s"
