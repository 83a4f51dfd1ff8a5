#!/bin/bash
# On the GPU host, from the repository root (session 17): the pipeline alone (TestPipelineAlone,
# lineorder 40M, P=16) now that a GPU writer export runs on 4 Ps (export/procs.go), against
# GOMAXPROCS=16 from the environment (left alone), two interleaved rounds: does 4 Ps cap the
# pipeline, whose CPU is about 0.6 CPU-s per GB at 5 GB/s?
#   KIT (default .gpuhost/s17h, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17h}; O=${OUT:-/tmp/s17h-out}
source bench/gpuhost-prelude.sh
gpuhost_start s17h lineorder
dsn=postgres://postgres@127.0.0.1:5432/postgres
for round in 1 2; do
  for procs in ${PROCS:-default 16 8}; do
    env $([ $procs != default ] && echo GOMAXPROCS=$procs) PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
      PGPARQUET_PIPELINE_TABLE=lineorder PGPARQUET_PIPELINE_PARALLEL=16 PGPARQUET_PIPELINE_OUT=/dev/shm/s17h-pipe \
      bash -c "cd export && timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1" | grep -E 'pipeline alone|FAIL|panic' | sed "s/^/r$round GOMAXPROCS $procs: /" | cut -c1-260
    rm -rf /dev/shm/s17h-pipe
  done
done
echo "total: $SECONDS s"
