#!/bin/bash
# On the GPU host, from the repository root (session 23): the GPU writer's string pages
# gathered in chunks of pinned memory (p-pin, as HEAD: device.PageEncoder.ChunkPool), which
# the GPU's compression copies by DMA, against chunks of Go memory (p-go: PGPARQUET_CHUNKS=go,
# a measure build's switch), which the driver stages through pinned memory of its own with the
# CPU. Wide 10M and lineorder 40M, P=16, zstd, ROUNDS rounds (default 3, the order reversed
# in every other), each after the source limit; each line from bench/gpuhost-split-run.py.
# Then a CPU profile of wide each way (to $O, for bench/cpusplit), and wide's files with
# pinned chunks against the CPU path's (bench/gpuhost-compare.py).
#   KIT (default .gpuhost/s23c, carried): base files and pgparquet-m.xz (-tags measure).
#   LABELS (default "p-go p-pin"; p-pin50: p-pin with GOGC=50, which the export keeps instead
#   of its 35 while string pages are gathered), PROFILE=0 skips the profiles and the compare.
# s23d: NAME=s23d TABLES=wide ROUNDS=4 LABELS="p-go p-pin p-pin50" PROFILE=0, with the slabs
#   pinned outside the pool's lock (s23c pinned them under it).
set -uo pipefail
K=${KIT:-.gpuhost/s23c}; O=${OUT:-/tmp/s23c-out}; N=${NAME:-s23c}; T=${TABLES:-wide lineorder}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
envs_of() { case $1 in p-go) echo PGPARQUET_CHUNKS=go ;; p-pin50) echo GOGC=50 ;; *) echo PGPARQUET_CHUNKS=pinned ;; esac; }
labels=${LABELS:-p-go p-pin}
run() { # TABLE ROUND LABEL [ARGS...]
  local t=$1 r=$2 l=$3
  shift 3
  rm -rf /dev/shm/s23-out
  env PGPARQUET_NVCOMP_LIB="$nv" $(envs_of "$l") python3 bench/gpuhost-split-run.py "$t r$r $l" "$K/pgparquet-m" export \
    --dsn $dsn --table "$t" --output-dir /dev/shm/s23-out --overwrite --parallel 16 --gpu-lib "$lib" --no-progress --log-format json "$@"
}
for r in $(seq 1 "${ROUNDS:-3}"); do
  for t in $T; do
    source_limit "$t" 16
    order=$labels; [ $((r % 2)) = 0 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
[ "${PROFILE:-1}" = 1 ] || { echo "total: $SECONDS s"; exit 0; }
for l in p-go p-pin; do run wide prof "$l" --cpu-profile "$O/$N-wide-$l.pprof"; done
env PGPARQUET_NVCOMP_LIB="$nv" "$K/pgparquet-m" export --dsn $dsn --table wide --output-dir /dev/shm/s23-gpu --overwrite --parallel 16 \
  --gpu-lib "$lib" --no-progress > /dev/null 2>&1 || echo "gpu export failed"
"$K/pgparquet-m" export --dsn $dsn --table wide --output-dir /dev/shm/s23-cpu --overwrite --parallel 16 --no-progress --gpu off > /dev/null 2>&1 || echo "cpu export failed"
timeout 300 python3 bench/gpuhost-compare.py /dev/shm/s23-gpu /dev/shm/s23-cpu id
echo "total: $SECONDS s"
