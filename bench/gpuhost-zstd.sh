#!/bin/bash
# On the GPU host (no Go there), from the repository root: GPU compression of Parquet pages
# (nvCOMP zstd) checked and measured in one call, logs in $OUT.
#   KIT (default .gpuhost, git-ignored, carried) holds: pg15.tar.xz, start-pg.sh and
#   make-lineorder.sh (from ../shared/gpuhost), pgparquet-b.xz (built here with CGO_ENABLED=1
#   -ldflags="-s -w"), device.test.xz (go test -c ./device) and nvcomp.tar.xz (include/ and
#   lib64/libnvcomp.so.6 of the nvidia-libnvcomp-cu13 wheel).
#   ROWS (default 40000000), P (default 16), ROUNDS (default 2).
# Checks: the GPU decoder's differential test, then TestGPUZstd (every page compressed on the
# GPU decodes on the CPU to itself; batcher vs arrow-go's zstd throughput). Measures: the same
# binary exporting lineorder with GPU decode and GPU compression, GPU decode and CPU
# compression (PGPARQUET_NVCOMP_LIB=off), and all on the CPU.
set -uo pipefail
K=${KIT:-.gpuhost}; O=${OUT:-/tmp/zstd-out}; ROWS=${ROWS:-40000000}; P=${P:-16}; ROUNDS=${ROUNDS:-2}
mkdir -p "$O"
exec > >(tee "$O/zstd.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
nproc; nvidia-smi -L
for x in pgparquet-b device.test; do xz -dkf "$K/$x.xz" && chmod +x "$K/$x"; done
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
export PGPARQUET_NVCOMP_LIB=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libb.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu || exit 1
lib=$(realpath "$K/libb.so"); dt=$(realpath "$K/device.test")
echo "== GPU tests"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 200 "$dt" -test.run 'TestGPU(MatchesCPU|Zstd|Start)$' -test.v 2>&1 | grep -v '^=== RUN' | grep -v 'failed earlier' | head -40)
echo "== frames that the Go decoder read differently, decoded by libzstd (the reference)"
mkdir -p "$O/dump"
(cd device && PGPARQUET_DUMP_DIR="$O/dump" PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 100 "$dt" -test.run 'TestGPUZstd$' >/dev/null 2>&1)
python3 - "$O/dump" <<'PY'
import ctypes, ctypes.util, glob, sys
name = ctypes.util.find_library("zstd") or "libzstd.so.1"
z = ctypes.CDLL(name)
z.ZSTD_decompress.restype = ctypes.c_size_t
z.ZSTD_isError.restype = ctypes.c_uint
z.ZSTD_getErrorName.restype = ctypes.c_char_p
for f in sorted(glob.glob(sys.argv[1] + "/*.zst")):
    src = open(f[:-4] + ".src", "rb").read(); frame = open(f, "rb").read(); gov = open(f[:-4] + ".go", "rb").read()
    out = ctypes.create_string_buffer(len(src) + 1024)
    n = z.ZSTD_decompress(out, len(out), frame, len(frame))
    if z.ZSTD_isError(n):
        print(f, "libzstd error:", z.ZSTD_getErrorName(n)); continue
    got = out.raw[:n]
    first = next((i for i in range(min(len(got), len(src))) if got[i] != src[i]), -1)
    gofirst = next((i for i in range(min(len(gov), len(src))) if gov[i] != src[i]), -1)
    print(f, f"frame {len(frame)} B, head {frame[:16].hex()}: libzstd {n} B equal={got == src} (first diff {first}); Go decoder first diff {gofirst}; libzstd==Go {got == gov}")
PY
echo "== compute-sanitizer memcheck (compression)"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 200 compute-sanitizer --tool memcheck --leak-check full \
  "$dt" -test.run 'TestGPUZstd$' 2>&1 | grep -v 'GB/s\|^=== RUN' | tail -6)
bash "$K/start-pg.sh" "$K" || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-measure.sh
echo "== the same table exported with GPU and with CPU compression: the same values"
for x in gpu cpu; do
  n=$PGPARQUET_NVCOMP_LIB; [ $x = cpu ] && n=off
  PGPARQUET_NVCOMP_LIB=$n "$K/pgparquet-b" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder \
    --output-dir /dev/shm/cmp-$x --overwrite --parallel "$P" --gpu on --gpu-lib "$lib" --no-progress >/dev/null || echo "export $x failed"
done
(cd device && PGPARQUET_COMPARE_A=/dev/shm/cmp-gpu PGPARQUET_COMPARE_B=/dev/shm/cmp-cpu PGPARQUET_CUDA_LIB=$lib timeout 300 "$dt" -test.run 'TestCompareExports$' -test.v 2>&1 | grep -v '^=== RUN' | tail -5)
du -sb /dev/shm/cmp-gpu /dev/shm/cmp-cpu; rm -rf /dev/shm/cmp-gpu /dev/shm/cmp-cpu
for round in $(seq 1 "$ROUNDS"); do
  for mode in "on $PGPARQUET_NVCOMP_LIB" "on off" "off off"; do
    set -- $mode
    PGPARQUET_NVCOMP_LIB=$2 measure "round $round gpu=$1 nvcomp=$(basename "$2")" "$K/pgparquet-b" export \
      --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder --output-dir /dev/shm/zstd-out --overwrite \
      --parallel "$P" --gpu "$1" --gpu-lib "$lib" --no-progress
    rm -rf /dev/shm/zstd-out
  done
done
