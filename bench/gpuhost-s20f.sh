#!/bin/bash
# On the GPU host, from the repository root (session 20): wide's peak RSS through the GPU
# writer rose with 256 KiB zstd frames (s20b, s20d: 0.96-1.02 GB against 0.93-0.94 with 128
# KiB). Do smaller PLAIN string pages (held in Go memory on their way to the device) bring it
# back? wide 10M, P=16, zstd, two interleaved rounds with the source limit: 256 KiB frames with
# string pages of 512 KiB (as committed) and 256 KiB, and 128 KiB frames with 512 KiB pages.
#   KIT (default .gpuhost/s20f, carried): base files (nvcomp.tar.xz too) and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20f}; O=${OUT:-/tmp/s20f-out}
source bench/gpuhost-prelude.sh
gpuhost_start s20f wide
# run TABLE ROUND SETTINGS: one GPU-writer export with SETTINGS (VAR=VALUE words, "-": none).
run() {
  (export PGPARQUET_NVCOMP_LIB=$nv; [ "$3" = - ] || export ${3//+/ }
  measure "$1 r$2 gpu $3" "$K/pgparquet-c" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$1" \
    --output-dir /dev/shm/s20f-out --overwrite --parallel 16 --gpu on --gpu-lib "$lib" --no-progress | grep -v "^ *time=\|compression")
  rm -rf /dev/shm/s20f-out
}
TABLES=wide ab_loop run - PGPARQUET_GPU_STRING_PAGE_KIB=256 PGPARQUET_GPU_ZSTD_BATCH=32,4,128
TABLES=wide ab_loop run - PGPARQUET_GPU_STRING_PAGE_KIB=256 PGPARQUET_GPU_ZSTD_BATCH=32,4,128
echo "total: $SECONDS s"
