#!/bin/bash
# On the GPU host, from the repository root (session 16): the GPU writer's half of
# TestGPUWriterStatisticsAreTrue (export/gpustats_test.go): st, the table made to stress
# statistics, created in PostgreSQL and exported through the GPU writer into one directory per
# export of gpuStatsExports (gpu/, gpu-big/, gpu-p1/ and gpu-p1-cpu/ through the CPU path; the
# run of session 16 had the first two), which it leaves in $OUT/stats.tar.xz. The test fails there unless the GPU
# writer encoded the pages. Check them here (pyarrow, DuckDB, PostgreSQL's values):
#   mkdir -p /tmp/s16-stats && tar -xJf OUT/stats.tar.xz -C /tmp/s16-stats
#   PGPARQUET_GPU_STATS_DIR=/tmp/s16-stats go test -count=1 -v -run TestGPUWriterStatisticsAreTrue ./export
# KIT (default .gpuhost/s16-stats, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz and
# export.test.xz (CGO_ENABLED=1 go test -c -ldflags="-s -w" -o KIT/export.test ./export; xz -f KIT/export.test).
set -uo pipefail
K=${KIT:-.gpuhost/s16-stats}; O=${OUT:-/tmp/s16-stats-out}
mkdir -p "$O"
exec > >(tee -a "$O/s16-stats.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/export.test.xz" && chmod +x "$K/export.test"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
echo "library built: $SECONDS s"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
S=/dev/shm/s16-stats
rm -rf "$S" && mkdir -p "$S"
echo "== TestGPUWriterStatisticsAreTrue, produce half"
(cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_STATS_DSN=$dsn PGPARQUET_GPU_STATS_OUT=$S \
  timeout 300 ../$K/export.test -test.run '^TestGPUWriterStatisticsAreTrue$' -test.v 2>&1 | grep -v '^=== RUN' | cut -c1-300 | tail -80)
echo "export.test exit status: $?"
tar -C "$S" -cJf "$O/stats.tar.xz" . && ls -l "$O/stats.tar.xz"
echo "total: $SECONDS s"
