#!/bin/bash
# On the GPU host, from the repository root (session 21): receive buffers on the GPU writer,
# after s21f found 2 MiB (two per worker) 0-11% slower than 4 MiB on a fast host: 4 MiB x 2,
# 2 MiB x 2 and 2 MiB x 3 per worker ($PGPARQUET_BUFFERS_PER_WORKER, a measurement build's
# knob: the third buffer lets the receiver run one more buffer ahead of decoding). Lineorder
# 40M and wide 10M, P=16, zstd, three rounds (the labels' order rotating), each after the
# source limit. Each line: bench/gpuhost-split-run.py.
#   KIT (default .gpuhost/s21g, carried): base files and pgparquet-m.xz (HEAD plus the knob).
set -uo pipefail
K=${KIT:-.gpuhost/s21g}; O=${OUT:-/tmp/s21g-out}
source bench/gpuhost-prelude.sh
gpuhost_start s21g lineorder wide
source bench/gpuhost-source-limit.sh
for t in lineorder wide; do
  for r in 1 2 3; do
    source_limit "$t" 16
    case $r in 1) order="4x2 2x2 2x3" ;; 2) order="2x2 2x3 4x2" ;; 3) order="2x3 4x2 2x2" ;; esac
    for l in $order; do
      rm -rf /dev/shm/s21-out
      env PGPARQUET_NVCOMP_LIB="$nv" PGPARQUET_BUFFERS_PER_WORKER=${l#*x} python3 bench/gpuhost-split-run.py "$t r$r gpu $l" \
        "$K/pgparquet-m" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s21-out \
        --overwrite --parallel 16 --gpu-lib "$lib" --no-progress --log-format json --buffer-size "${l%x*}MiB"
    done
  done
done
echo "total: $SECONDS s"
