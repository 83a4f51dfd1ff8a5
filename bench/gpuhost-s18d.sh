#!/bin/bash
# On the GPU host, from the repository root (session 18): TestSidecarChaos with the sidecars on
# the GPU (decoder and GPU writer, nvCOMP zstd): sidecars killed and frozen, PostgreSQL
# restarted, while requests are served; every request must end final and every succeeded
# export hold exactly its table's rows, each of them decoded on the GPU
# ($PGPARQUET_CHAOS_DECODER=gpu). The host has no Go: the test binary runs the command itself
# ($PGPARQUET_TEST_BINARY=self). RUNS seeds, one after the other.
#   KIT (default .gpuhost/s18d, carried): pg15.tar.xz, nvcomp.tar.xz, pgparquet.test.xz
#   (CGO_ENABLED=1 go test -c -ldflags="-s -w" ./cmd/pgparquet).
set -uo pipefail
K=${KIT:-.gpuhost/s18d}; O=${OUT:-/tmp/s18d-out}
mkdir -p "$O"
exec > >(tee -a "$O/s18d.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet.test.xz" && chmod +x "$K/pgparquet.test"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
B=/opt/pgb; [ -x $B/usr/lib/postgresql/15/bin/postgres ] || { mkdir -p $B && tar -xJf "$K/pg15.tar.xz" -C $B; }
export PGTEST_BINDIR=$B/usr/lib/postgresql/15/bin LD_LIBRARY_PATH=$B/syslib
export PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_TEST_BINARY=self PGPARQUET_CHAOS_DECODER=gpu
for run in $(seq 1 ${RUNS:-2}); do
  (cd cmd/pgparquet && timeout 280 ../../$K/pgparquet.test -test.run '^TestSidecarChaos$' -test.v -test.timeout 270s > "$O/chaos-$run.txt" 2>&1; echo "run $run: rc $?")
  grep -E "^(---|===|ok|FAIL|PASS)|chaos size|requests [0-9]+:|checked in|setup done|final .* after" "$O/chaos-$run.txt" | cut -c1-400
done
echo "total: $SECONDS s"
