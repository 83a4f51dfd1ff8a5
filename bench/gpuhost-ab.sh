#!/bin/bash
# On the GPU host (no Go there), from the repository root: the GPU checks of the device package
# and an A/B of two pgparquet binaries on one lineorder table, in one call, logs in $OUT.
#   KIT (default .gpuhost, git-ignored, carried) holds: pg15.tar.xz, start-pg.sh and
#   make-lineorder.sh (from ../shared/gpuhost), pgparquet-a.xz and pgparquet-b.xz (built here
#   with CGO_ENABLED=1 -ldflags="-s -w"), pgcopy-a.cu (binary a's CUDA source; b's is
#   device/cuda/pgcopy.cu) and device.test.xz (go test -c ./device).
#   ROWS (default 40000000: 6.8 GB of COPY), P (default 16), ROUNDS (default 2).
# Each round exports the table with a then b, GPU then CPU, and prints seconds, CPU seconds and
# peak RSS of each; compare the two binaries within a round.
set -uo pipefail
K=${KIT:-.gpuhost}; O=${OUT:-/tmp/ab-out}; ROWS=${ROWS:-40000000}; P=${P:-16}; ROUNDS=${ROUNDS:-2}
mkdir -p "$O"
exec > >(tee "$O/ab.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
nproc; nvidia-smi -L
for x in pgparquet-a pgparquet-b device.test; do xz -dkf "$K/$x.xz" && chmod +x "$K/$x"; done
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -o "$K/liba.so" "$K/pgcopy-a.cu" & a=$!
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -o "$K/libb.so" device/cuda/pgcopy.cu & b=$!
wait $a $b # a bare wait would also wait for the tee above
lib=$(realpath "$K/libb.so"); dt=$(realpath "$K/device.test")
echo "== GPU tests (differential GPU vs CPU on fresh random data, faults, no leaks)"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 150 "$dt" -test.run 'TestGPU(MatchesCPU|CUDAErrorsFallBack|Start)' -test.v 2>&1 | tail -40)
echo "== compute-sanitizer memcheck"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck --leak-check full \
  "$dt" -test.run 'TestGPUMatchesCPU' 2>&1 | tail -8)
bash "$K/start-pg.sh" "$K" || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-measure.sh
for round in $(seq 1 "$ROUNDS"); do
  for gpu in on off; do
    for v in a b; do
      measure "round $round $v gpu=$gpu" "$K/pgparquet-$v" export --dsn postgres://postgres@127.0.0.1:5432/postgres \
        --table lineorder --output-dir /dev/shm/ab-out --overwrite --parallel "$P" --gpu "$gpu" \
        --gpu-lib "$(realpath "$K/lib$v.so")" --no-progress
      rm -rf /dev/shm/ab-out
    done
  done
done
