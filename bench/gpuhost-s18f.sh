#!/bin/bash
# On the GPU host, from the repository root (session 18): pinned buffers of 2 MiB or more in
# huge pages registered with the driver ($PGPARQUET_PINNED=huge) against cudaMallocHost's
# small pages: the GPU writer's exports of lineorder 40M and wide 10M, P=16, zstd, two
# interleaved rounds with the source limit; CPU profiles of round 1 (bench/cpusplit).
#   Needs the huge-page allocation of commit 89a27f7 (dropped after this measurement: no gain).
#   KIT (default .gpuhost/s18b, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18b}; O=${OUT:-/tmp/s18f-out}
source bench/gpuhost-prelude.sh
gpuhost_start s18f lineorder wide
cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag
ab_exports PGPARQUET_PINNED "huge -"
echo "total: $SECONDS s"
