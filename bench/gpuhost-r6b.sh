#!/bin/bash
# On the GPU host (no Go there), from the repository root: peak RSS and CPU of lineorder
# exports at P workers on both paths with the session-6 receive path (package copyout) and
# memory limit (export/memlimit.go), against the same binary with GOMEMLIMIT=off (the
# collector as before the limit), interleaved, in one call. Logs in $OUT/r6b.log.
#   KIT (default .gpuhost/r6b, carried) holds pg15.tar.xz, start-pg.sh, make-lineorder.sh
#   (../shared/gpuhost), pgparquet-b.xz (CGO_ENABLED=1 -ldflags="-s -w") and nvcomp.tar.xz.
#   ROWS (default 40000000), P (default 16), ROUNDS (default 2).
set -uo pipefail
K=${KIT:-.gpuhost/r6b}; O=${OUT:-/tmp/r6b-out}; ROWS=${ROWS:-40000000}; P=${P:-16}; ROUNDS=${ROUNDS:-2}
mkdir -p "$O"
exec > >(tee "$O/r6b.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
nproc; nvidia-smi -L
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
for round in $(seq 1 "$ROUNDS"); do
  for mode in "on $nv" "off off"; do
    set -- $mode
    for limit in default off; do
      if [ $limit = off ]; then export GOMEMLIMIT=off; else unset GOMEMLIMIT; fi
      PGPARQUET_NVCOMP_LIB=$2 measure "round $round gpu=$1 nvcomp=$(basename "$2") GOMEMLIMIT=$limit" "$K/pgparquet-b" export \
        --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder --output-dir /dev/shm/r6b-out --overwrite \
        --parallel "$P" --gpu "$1" --gpu-lib "$lib" --no-progress
      rm -rf /dev/shm/r6b-out
    done
  done
done
unset GOMEMLIMIT
echo "== P=8, both paths, default limit"
for mode in "on $nv" "off off"; do
  set -- $mode
  PGPARQUET_NVCOMP_LIB=$2 measure "P=8 gpu=$1" "$K/pgparquet-b" export --dsn postgres://postgres@127.0.0.1:5432/postgres \
    --table lineorder --output-dir /dev/shm/r6b-out --overwrite --parallel 8 --gpu "$1" --gpu-lib "$lib" --no-progress
  rm -rf /dev/shm/r6b-out
done
pg_ctl -D /dev/shm/pgdata stop -m fast >/dev/null 2>&1 || pkill -x postgres
echo "total: $SECONDS s"
