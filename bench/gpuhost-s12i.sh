#!/bin/bash
# On the GPU host, from the repository root (session 12): the GPU writer's data pages of 1 MiB
# (the default), 512 and 256 KiB ($PGPARQUET_PAGE_KIB) on lineorder 40M, P=16, one round each
# with the source limit (bench/gpuhost-r8.sh): peak RSS (each lane holds a page buffer of pinned
# memory per fixed-width column), speed, CPU and Parquet size.
#   KIT (default .gpuhost/s12i, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
# Not run yet: session 12 had no device time left for it.
set -uo pipefail
K=${KIT:-.gpuhost/s12i}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
KIT=$K OUT=$R/p1024 TABLES=lineorder MODES=pages ROUNDS=1 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
for kib in 512 256; do
  PGPARQUET_PAGE_KIB=$kib KIT=$K OUT=$R/p$kib REUSE=1 TABLES=lineorder MODES=pages ROUNDS=1 PIPELINE="" \
    bash bench/gpuhost-r8.sh > /dev/null 2>&1
done
for d in p1024 p512 p256; do grep -E "source limit|round" "$R/$d/r8.log" | sed "s/^/$d: /" | cut -c1-260; done
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
