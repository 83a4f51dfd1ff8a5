#!/bin/bash
# On the GPU host (session 24): what a process's exit costs after CUDA work
# (bench/gpuhost-cuda-exit.py): the context alone; 3 GiB of device memory; 1 GiB of pinned
# host memory freed before the exit or left to it; both. Three runs each.
set -uo pipefail
O=${OUT:-/tmp/s24b-out}; mkdir -p "$O"
exec > >(tee -a "$O/s24b.log") 2>&1
for spec in "context:0:0:keep" "dev3g-keep:3072:0:keep" "dev3g-free:3072:0:free" "pin1g-keep:0:1024:keep" \
  "pin1g-free:0:1024:free" "both-keep:3072:1024:keep" "both-free:3072:1024:free"; do
  IFS=: read -r l d p m <<< "$spec"
  python3 bench/gpuhost-cuda-exit.py "$l" "$d" "$p" "$m" 3
done
echo "total: $SECONDS s"
