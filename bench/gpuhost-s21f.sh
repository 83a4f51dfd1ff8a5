#!/bin/bash
# On the GPU host, from the repository root (session 21): HEAD's 2 MiB receive buffers against
# the 4 MiB of before, the GPU writer, on a host whose source is fast (s21e's lineorder ran at
# 0.73-0.82x of a 1.92 GB/s source, with no 4 MiB run beside it). Lineorder 40M and wide 10M,
# P=16, zstd, three rounds (the labels' order alternating), each after the source limit.
# Each line: bench/gpuhost-split-run.py.
#   KIT (default .gpuhost/s21e, carried): base files and pgparquet-c.xz (HEAD's binary).
set -uo pipefail
K=${KIT:-.gpuhost/s21e}; O=${OUT:-/tmp/s21f-out}
source bench/gpuhost-prelude.sh
gpuhost_start s21f lineorder wide
source bench/gpuhost-source-limit.sh
for t in lineorder wide; do
  for r in 1 2 3; do
    source_limit "$t" 16
    order="2MiB 4MiB"; [ $r = 2 ] && order="4MiB 2MiB"
    for b in $order; do
      rm -rf /dev/shm/s21-out
      PGPARQUET_NVCOMP_LIB="$nv" python3 bench/gpuhost-split-run.py "$t r$r gpu $b" "$K/pgparquet-c" export \
        --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" --output-dir /dev/shm/s21-out --overwrite --parallel 16 \
        --gpu-lib "$lib" --no-progress --log-format json --buffer-size $b
    done
  done
done
echo "total: $SECONDS s"
