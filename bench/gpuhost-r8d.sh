#!/bin/bash
# On the GPU host, from the repository root: what limits the GPU pipeline alone (lineorder,
# P=16): TestPipelineAlone at receive buffers (batches) of 4, 16 and 64 MiB, with a block
# profile at 4 MiB, and the whole export with the GPU writer at the same buffer sizes.
# KIT as bench/gpuhost-r8.sh's (.gpuhost/r8a). Logs, JSON and profiles in $OUT.
set -uo pipefail
K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8d-out}; ROWS=${ROWS:-40000000}
mkdir -p "$O"
exec > >(tee -a "$O/r8d.log") 2>&1
source bench/gpuhost-r8-setup.sh
pipe() { # BUFFER_BYTES LABEL [extra env...]
  local b=$1 l=$2; shift 2
  (cd export && env "$@" PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn PGPARQUET_PIPELINE_TABLE=lineorder \
    PGPARQUET_PIPELINE_BUFFER=$b PGPARQUET_PIPELINE_OUT=/dev/shm/r8d-pipe PGPARQUET_PIPELINE_JSON="$O/pipeline-$l.json" \
    timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline_test|FAIL|panic' | sed "s/^/$l: /")
  rm -rf /dev/shm/r8d-pipe
}
pipe $((4 << 20)) 4MiB
pipe $((16 << 20)) 16MiB
pipe $((64 << 20)) 64MiB
pipe $((4 << 20)) 4MiB-block PGPARQUET_PIPELINE_BLOCKPROFILE="$O/pipeline-4MiB.block"
source bench/gpuhost-measure.sh
for b in 4MiB 16MiB 64MiB; do
  PGPARQUET_NVCOMP_LIB=$nv measure "lineorder gpu writer --buffer-size $b" "$K/pgparquet-c" export --dsn $dsn --table lineorder \
    --output-dir /dev/shm/r8d-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress --buffer-size $b
  rm -rf /dev/shm/r8d-out
done
echo "total: $SECONDS s"
