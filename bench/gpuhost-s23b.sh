#!/bin/bash
# On the GPU host, from the repository root (session 23): what a process's GPU start costs,
# alone and while another process holds a CUDA context on the GPU (as nvidia-persistenced keeps
# the driver's state: the persistence mode is read, never set); then CLI exports of lineorder
# 40M (P=16, zstd, the GPU writer) both ways, each log line timed from the launch; then CPU
# profiles of the GPU writer's exports of lineorder and wide 10M (to $O, for bench/cpusplit).
# The timed log lines came from an inline copy of bench/gpuhost-timeline.py when it ran.
#   KIT (default .gpuhost/s23b, carried): base files and pgparquet.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s23b}; O=${OUT:-/tmp/s23b-out}; N=${NAME:-s23b}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" lineorder wide
nvidia-smi --query-gpu=name,persistence_mode,driver_version --format=csv
for i in 1 2 3; do python3 bench/gpuhost-cuda-start.py "alone $i"; done
timeline() { # LABEL
  rm -rf /dev/shm/s23-out
  echo "== lineorder, $1"
  PGPARQUET_NVCOMP_LIB="$nv" python3 bench/gpuhost-timeline.py "$K/pgparquet" lineorder "$lib" /dev/shm/s23-out \
    "export started,decoding on the GPU,progress,export finished"
}
timeline "alone 1"; timeline "alone 2"
# A process holding a context, as a persistence daemon keeps the GPU initialized.
python3 -c "
import ctypes, time
cu = ctypes.CDLL('libcuda.so.1'); cu.cuInit(0)
dev, ctx = ctypes.c_int(), ctypes.c_void_p()
cu.cuDeviceGet(ctypes.byref(dev), 0); cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev)
time.sleep(300)" &
holder=$!
sleep 2
for i in 1 2 3; do python3 bench/gpuhost-cuda-start.py "held $i"; done
timeline "held 1"; timeline "held 2"
kill $holder
for t in lineorder wide; do
  rm -rf /dev/shm/s23-out
  PGPARQUET_NVCOMP_LIB="$nv" "$K/pgparquet" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table $t --output-dir /dev/shm/s23-out \
    --overwrite --parallel 16 --gpu-lib "$lib" --no-progress --cpu-profile "$O/$N-$t-gpu-writer.pprof" | grep -E '"(rows|seconds|copy_bytes)"' | tr -d ' \n'; echo
done
echo "total: $SECONDS s"
