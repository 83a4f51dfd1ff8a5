#!/bin/bash
# On the GPU host, from the repository root: what limits the GPU pipeline alone (lineorder,
# P=16): TestPipelineAlone at receive buffers (batches) of 4, 16 and 64 MiB, with a block
# profile at 4 MiB, and the whole export with the GPU writer at the same buffer sizes.
# KIT as bench/gpuhost-r8.sh's (.gpuhost/r8a). Logs, JSON and profiles in $OUT.
set -uo pipefail
K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8d-out}; ROWS=${ROWS:-40000000}
mkdir -p "$O"
exec > >(tee -a "$O/r8d.log") 2>&1
pkill -x postgres; sleep 1
for f in pgparquet-c export.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
[ -f "$K/libc.so" ] || nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so")
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" || exit 1
[ "$(psql -Atc 'SELECT count(*) FROM lineorder' 2>/dev/null)" = "$ROWS" ] || ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
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
