#!/bin/bash
# On the GPU host, from the repository root: compression in its own partition of SMs (a green
# context, $PGPARQUET_GPU_COMPRESS_SMS, device/cuda/streams.cuh), against sharing every SM, and
# nvCOMP's frame size and batchers ($PGPARQUET_GPU_ZSTD_BATCH), on lineorder 40M's pipeline
# alone (TestPipelineAlone, P=16). First the codecs' round trips with compression partitioned
# (TestGPUCodecs, pages only), then each setting of CONFIGS ("name VAR=value ..." per line),
# in two rounds.
#   KIT (default .gpuhost/s12b, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost).
# Not kept: the green context it measured (device/cuda/streams.cuh of that call); its driver
# lookup failed here, s12c measured it (bench/results/gpuhost-h200-2026-11-30-s12b.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R/device"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so"); nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
(cd device && PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_QUICK=1 \
  PGPARQUET_GPU_LATENCY=1 timeout 150 ../$K/device.test -test.v -test.run 'TestGPUCodecs|TestGPUZstdLatency' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go|partition|error' | grep -v "x 1 runners" | tail -40) > "$R/device/tests.log"
cat "$R/device/tests.log"
CONFIGS=${CONFIGS:-"base
sms48 PGPARQUET_GPU_COMPRESS_SMS=48
sms32 PGPARQUET_GPU_COMPRESS_SMS=32
sms64 PGPARQUET_GPU_COMPRESS_SMS=64
f64 PGPARQUET_GPU_ZSTD_BATCH=32,4,64
sms48-b8 PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_GPU_ZSTD_BATCH=32,8"}
reuse=0
for round in 1 2; do
  while read -r name envs; do
    [ -n "$name" ] || continue
    env $envs KIT=$K OUT=$R/$name-$round REUSE=$reuse ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages \
      TRACE=$([ $round = 1 ] && echo 1 || echo 0) bash bench/gpuhost-r8.sh > /dev/null 2>&1
    reuse=1
    echo "$name round $round: $(grep -h "pipeline alone" "$R/$name-$round/r8.log" | sed 's/.*pipeline alone: //') $(grep -ho 'partition="[^"]*"' "$R/$name-$round/r8.log" | head -1)"
  done <<< "$CONFIGS"
done
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
