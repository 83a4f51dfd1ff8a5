#!/bin/bash
# On the GPU host, from the repository root: the decoder's outputs of a chunk in one copy from
# the device (pgpq_finish_block) against one copy per buffer ($PGPARQUET_GPU_FINISH=buffers),
# on lineorder 40M's pipeline alone (TestPipelineAlone, P=16), the lanes waiting for a row
# group's pages at its end (as committed) or going on with one sealed
# ($PGPARQUET_SEALED_ROW_GROUPS=1), two rounds, traces of the first; then wide 10M's. First
# the device's GPU tests of the decoder (bit for bit against the CPU, CUDA faults) and of the page encoder.
#   KIT (default .gpuhost/s12d, carried): export.test.xz, device.test.xz, nvcomp.tar.xz,
#   pg15.tar.xz, start-pg.sh, make-lineorder.sh (../shared/gpuhost), wide.sql
#   (go run ./bench/load --shape wide --print-sql).
# Not kept: pgpq_finish_block, which it measured: the decode calls took 20-30% less time, the
# other calls as much more, the pipeline no faster (bench/results/gpuhost-h200-2026-11-30-s12d.log).
set -uo pipefail
K=${KIT:-.gpuhost/s12d}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R/device"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so"); nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 \
  timeout 150 ../$K/device.test -test.v -test.run 'TestGPUMatchesCPU|TestGPUCUDAErrorsFallBack|TestGPUPageEncoder|TestGPUUniques' 2>&1 |
  grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go|error' | tail -40) > "$R/device/tests.log"
cat "$R/device/tests.log"
CONFIGS=${CONFIGS:-"block
buffers PGPARQUET_GPU_FINISH=buffers
block-s1 PGPARQUET_SEALED_ROW_GROUPS=1
buffers-s1 PGPARQUET_GPU_FINISH=buffers PGPARQUET_SEALED_ROW_GROUPS=1"}
reuse=0
for round in 1 2; do
  while read -r name envs; do
    [ -n "$name" ] || continue
    env $envs KIT=$K OUT=$R/$name-$round REUSE=$reuse ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages \
      TRACE=$([ $round = 1 ] && echo 1 || echo 0) bash bench/gpuhost-r8.sh > /dev/null 2>&1
    reuse=1
    echo "$name round $round: $(grep -h "pipeline alone" "$R/$name-$round/r8.log" | sed 's/.*pipeline alone: //')"
  done <<< "$CONFIGS"
done
# wide 10M's pipeline alone, as committed (its arrays now decoded without arrow-go's builders)
KIT=$K OUT=$R/wide REUSE=1 ROUNDS=0 MODES="" TABLES=wide PIPELINE=pages TRACE=1 bash bench/gpuhost-r8.sh > /dev/null 2>&1
echo "wide: $(grep -h "pipeline alone" "$R/wide/r8.log" | sed 's/.*pipeline alone: //')"
rm -f "$R"/*/*.pprof
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
