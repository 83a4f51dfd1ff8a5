#!/bin/bash
# On the GPU host, from the repository root (session 17): the GPU tests the issue asks of the
# writer, on a library built from this tree. The device's differential tests (decoders, fused
# finishing, lists, numeric text, page encoder, grouping, zstd and the other batchers) and
# injected failures (decode and copy-back: TestGPUCUDAErrorsFallBack; page encoder and grouping:
# -EncodeFaultsFallBack; nvCOMP's run: -ZstdFaultFallsBack); compute-sanitizer's memcheck on
# the decoders, the page encoder, the grouping and nvCOMP's batches; then the GPU writer's half
# of TestGPUWriterStatisticsAreTrue (export/gpustats_test.go), whose gpu-p1 export goes through
# the CPU path too (gpu-p1-cpu), left in $OUT/stats.tar.xz to check here:
#   mkdir -p /tmp/s17-stats && tar -xJf OUT/stats.tar.xz -C /tmp/s17-stats
#   PGPARQUET_GPU_STATS_DIR=/tmp/s17-stats go test -count=1 -v -run TestGPUWriterStatisticsAreTrue ./export
# KIT (default .gpuhost/s17a, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz, export.test.xz
# and device.test.xz (CGO_ENABLED=1 go test -c -ldflags="-s -w" -o KIT/X.test ./X; xz -f).
set -uo pipefail
K=${KIT:-.gpuhost/s17a}; O=${OUT:-/tmp/s17a-out}
mkdir -p "$O"
exec > >(tee -a "$O/s17a.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in export.test device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
echo "library built: $SECONDS s"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== device GPU tests"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 ../$K/device.test -test.v \
  -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|ListPlans|NumericTextMatchesCPU|NumericTextColumns|EncodePlain|PageEncoder|Uniques|Zstd|Codecs|CUDAErrorsFallBack|EncodeFaultsFallBack|ZstdFaultFallsBack|Start)$' 2>&1 |
  grep -E '^(--- |ok|FAIL|PASS|panic)|_test.go' | cut -c1-260 | head -80)
echo "device tests: $SECONDS s"
echo "== compute-sanitizer memcheck: decoders, page encoder, grouping"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=off PGPARQUET_REQUIRE_GPU=1 timeout 200 compute-sanitizer --tool memcheck --leak-check full \
  ../$K/device.test -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|NumericTextMatchesCPU|EncodePlain|PageEncoder|Uniques|CUDAErrorsFallBack|EncodeFaultsFallBack)$' 2>&1 | tail -6)
echo "memcheck 1: $SECONDS s"
echo "== compute-sanitizer memcheck: nvCOMP batches"
(cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run '^TestGPU(Zstd|ZstdFaultFallsBack)$' 2>&1 | tail -6)
echo "memcheck 2: $SECONDS s"
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
S=/dev/shm/s17-stats
rm -rf "$S" && mkdir -p "$S"
echo "== TestGPUWriterStatisticsAreTrue, produce half"
(cd export && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_GPU_STATS_DSN=$dsn PGPARQUET_GPU_STATS_OUT=$S \
  timeout 200 ../$K/export.test -test.run '^TestGPUWriterStatisticsAreTrue$' -test.v 2>&1 | grep -v '^=== RUN' | cut -c1-300 | tail -60)
tar -C "$S" -cJf "$O/stats.tar.xz" . && ls -l "$O/stats.tar.xz"
echo "total: $SECONDS s"
