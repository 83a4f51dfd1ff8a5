#!/bin/bash
# On the GPU host: lineorder exports at P=16 on both paths under several Go soft memory limits
# (GOMEMLIMIT given to the process, which the export's own limit then leaves alone), to choose
# the export's default budget: peak RSS against CPU-s and wall time. KIT as gpuhost-r6b.sh's.
set -uo pipefail
K=${KIT:-.gpuhost/r6b}; O=${OUT:-/tmp/r6c-out}; ROWS=${ROWS:-40000000}; P=${P:-16}
mkdir -p "$O"
exec > >(tee "$O/r6c.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-b.xz" && chmod +x "$K/pgparquet-b"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libb.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu || exit 1
lib=$(realpath "$K/libb.so")
bash "$K/start-pg.sh" "$K" || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-measure.sh
for round in 1 2; do
  for limit in 1100MiB 1400MiB 1700MiB 2000MiB off; do
    GOMEMLIMIT=$limit PGPARQUET_NVCOMP_LIB=off measure "round $round cpu GOMEMLIMIT=$limit" "$K/pgparquet-b" export \
      --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder --output-dir /dev/shm/r6c-out --overwrite \
      --parallel "$P" --gpu off --no-progress | head -1
    rm -rf /dev/shm/r6c-out
  done
  for limit in 800MiB 1100MiB off; do
    GOMEMLIMIT=$limit PGPARQUET_NVCOMP_LIB=$nv measure "round $round gpu GOMEMLIMIT=$limit" "$K/pgparquet-b" export \
      --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder --output-dir /dev/shm/r6c-out --overwrite \
      --parallel "$P" --gpu on --gpu-lib "$lib" --no-progress | head -1
    rm -rf /dev/shm/r6c-out
  done
done
echo "total: $SECONDS s"
