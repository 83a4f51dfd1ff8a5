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
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag
for t in ${TABLES:-lineorder wide}; do
  for round in 1 2; do
    source_limit $t 16
    for pinned in huge small; do
      prof=""
      [ "$round" = 1 ] && prof="--cpu-profile $O/$t-$pinned.pprof"
      (export PGPARQUET_NVCOMP_LIB=$nv; [ $pinned = huge ] && export PGPARQUET_PINNED=huge
      measure "$t r$round gpu pinned $pinned" "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s18f-out --overwrite --parallel 16 \
        --gpu on --gpu-lib "$lib" --no-progress $prof | grep -v "^ *time=\|compression")
      rm -rf /dev/shm/s18f-out
    done
  done
done
echo "total: $SECONDS s"
