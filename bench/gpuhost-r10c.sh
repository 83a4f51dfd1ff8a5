#!/bin/bash
# On the GPU host, from the repository root (session 10): the pipeline alone (TestPipelineAlone,
# lineorder 40M rows, P=16) with the zstd batcher's batch size and batchers in flight swept
# through $PGPARQUET_GPU_ZSTD_BATCH ("MIB,BATCHERS[,FRAME_KIB]"; "default"), an execution trace of
# each (bench/traceregions: lanes' stages and the batchers' "compress batch" regions).
#   KIT (default .gpuhost/r10c, carried): export.test.xz, nvcomp.tar.xz, pg15.tar.xz,
#   start-pg.sh, make-lineorder.sh. CONFIGS overrides the sweep; SETUP=0 skips the setup (a
#   caller's: the kit unpacked, PostgreSQL running with lineorder).
set -uo pipefail
K=${KIT:-.gpuhost/r10c}; O=${OUT:-/tmp/r10c-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/r10c.log") 2>&1
nproc; nvidia-smi -L; date
if [ "${SETUP:-1}" = 1 ]; then
  BINARIES="export.test"
  source bench/gpuhost-r8-setup.sh
  echo "setup done: $SECONDS s"
else # the caller (gpuhost-r10d.sh) set up PostgreSQL and the kit
  nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6"); lib=$(realpath "$K/libc.so"); dsn=postgres://postgres@127.0.0.1:5432/postgres
fi
for cfg in ${CONFIGS:-default 16,8 32,4 64,4 64,8 128,4}; do # MIB,BATCHERS[,KIB]
  v=$cfg; [ "$cfg" = default ] && v=""
  (cd export && PGPARQUET_GPU_ZSTD_BATCH=$v PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
    PGPARQUET_PIPELINE_TABLE=lineorder PGPARQUET_PIPELINE_PARALLEL=$P PGPARQUET_PIPELINE_OUT=/dev/shm/r10c-pipe \
    PGPARQUET_PIPELINE_JSON="$O/pipeline-${cfg//,/-}.json" PGPARQUET_PIPELINE_TRACE="$O/pipeline-${cfg//,/-}.trace" \
    timeout 120 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline alone|FAIL|panic' | sed "s/^/$cfg: /")
  rm -rf /dev/shm/r10c-pipe
done
xz -T8 "$O"/*.trace
echo "total: $SECONDS s"
