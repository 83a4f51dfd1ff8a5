#!/bin/bash
# On the GPU host, from the repository root: compression in its own partition of SMs (a green
# context, $PGPARQUET_GPU_COMPRESS_SMS, device/cuda/streams.cuh; s12b's lookup of the driver's
# functions failed), against sharing every SM, with the lanes waiting for a row group's pages
# at its end or going on with one sealed ($PGPARQUET_SEALED_ROW_GROUPS), on lineorder 40M's
# pipeline alone (TestPipelineAlone, P=16). First the decoder's GPU tests (TestGPUMatchesCPU)
# and the codecs' round trips with compression partitioned (TestGPUCodecs, pages only; nvCOMP's
# time per batch on 48 SMs, TestGPUZstdLatency), then each setting of CONFIGS ("name VAR=value ..." per line),
# in two rounds.
#   KIT (default .gpuhost/s12c, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost).
# Not kept: the green context it measured: nvCOMP failed in its streams (status 1000) and the
# pipeline did not get faster (bench/results/gpuhost-h200-2026-11-30-s12c.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12c}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R/device"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so"); nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
(cd device && PGPARQUET_GPU_COMPRESS_SMS=48 PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 PGPARQUET_GPU_QUICK=1 \
  PGPARQUET_GPU_LATENCY=1 timeout 150 ../$K/device.test -test.v -test.run 'TestGPUCodecs|TestGPUZstdLatency|TestGPUMatchesCPU' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go|partition|error' | grep -v "x 1 runners" | tail -40) > "$R/device/tests.log"
cat "$R/device/tests.log"
CONFIGS=${CONFIGS:-"base
sms66 PGPARQUET_GPU_COMPRESS_SMS=66
sms66-s1 PGPARQUET_GPU_COMPRESS_SMS=66 PGPARQUET_SEALED_ROW_GROUPS=1
sms32-s1 PGPARQUET_GPU_COMPRESS_SMS=32 PGPARQUET_SEALED_ROW_GROUPS=1
sms96-s1 PGPARQUET_GPU_COMPRESS_SMS=96 PGPARQUET_SEALED_ROW_GROUPS=1
s1 PGPARQUET_SEALED_ROW_GROUPS=1"}
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
