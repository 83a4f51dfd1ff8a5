#!/bin/bash
# On the GPU host, from the repository root (session 18): the pipeline alone (TestPipelineAlone,
# lineorder 40M, P=16) with GPU compression on its own share of the SMs (a green context,
# $PGPARQUET_GPU_COMPRESS_SMS, of the H200's 132) so that the lanes' decode and page kernels do
# not wait for SMs that nvCOMP's long zstd blocks hold; with and without sealed row groups
# ($PGPARQUET_SEALED_ROW_GROUPS: lanes go on while their row group's pages compress), two
# interleaved rounds.
# Needs the partition of commit ae7281d (dropped in 8f6a7df after this measurement).
#   KIT (default .gpuhost/s18a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18a}; O=${OUT:-/tmp/s18a-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18a lineorder
dsn=postgres://postgres@127.0.0.1:5432/postgres
# CONFIGS: SMS:SEALED pairs (SMS 0: every SM; SEALED "-": the default).
for round in 1 2; do
  for c in ${CONFIGS:-0:- 96:- 64:- 32:- 0:8 96:8 64:8 32:8}; do
    sms=${c%%:*} sealed=${c##*:}
    env PGPARQUET_GPU_COMPRESS_SMS=$sms $([ "$sealed" != - ] && echo PGPARQUET_SEALED_ROW_GROUPS=$sealed) \
      PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
      PGPARQUET_PIPELINE_TABLE=${TABLE:-lineorder} PGPARQUET_PIPELINE_PARALLEL=16 PGPARQUET_PIPELINE_OUT=/dev/shm/s18a-pipe \
      bash -c "cd export && timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1" | grep -E 'pipeline alone|own SMs|every SM|FAIL|panic|Error' | sed "s/^/r$round sms $sms sealed $sealed: /" | cut -c1-300
    rm -rf /dev/shm/s18a-pipe
  done
done
echo "total: $SECONDS s"
