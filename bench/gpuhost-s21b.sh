#!/bin/bash
# On the GPU host, from the repository root (session 21): TestSidecarChaos with the GPU writer.
# The sidecars decode on the GPU and encode with the device's page encoder and nvCOMP while the
# test kills them (SIGKILL), freezes them past their lease (SIGSTOP, SIGCONT after another
# sidecar re-ran their requests) and restarts PostgreSQL; every succeeded request's files must
# hold its rows exactly once ($PGPARQUET_CHAOS_DECODER=gpu: every succeeded export decoded on
# the GPU). The GPU host has no Go and runs as root, which initdb refuses: the test binary
# (cmd/pgparquet's, built here with cgo) runs as user pg and starts the sidecars as itself
# ($PGPARQUET_TEST_BINARY=self), with PostgreSQL's tools from the kit. RUNS (default 2) runs of
# SIZE (short, the default, about 45 s each; long: 250 requests on tables of 1-3M rows under 5
# minutes of faults, RUNS=1), each with a fresh seed.
#   KIT (default .gpuhost/s21b, carried): pg15.tar.xz, nvcomp.tar.xz, cmd.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s21b}; O=${OUT:-/tmp/s21b-out}
mkdir -p "$O"
exec > >(tee -a "$O/s21b.log") 2>&1
pkill -x postgres; sleep 1
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
B=/opt/pgb; bin=$B/usr/lib/postgresql/15/bin
[ -x $bin/postgres ] || { mkdir -p $B && tar -xJf "$K/pg15.tar.xz" -C $B; } || exit 1
id pg >/dev/null 2>&1 || useradd -m pg
C=/tmp/chaos-gpu
rm -rf $C && mkdir -p $C/repo/cmd/pgparquet $C/tmp $C/nvcomp
cp go.mod $C/repo/ && cp -r deploy $C/repo/
xz -dc "$K/cmd.test.xz" > $C/cmd.test && chmod +x $C/cmd.test
cp "$lib" $C/libc.so && cp "$nv" $C/nvcomp/
chown -R pg $C && chmod -R a+rX $C
nvidia-smi -L; su pg -c "nvidia-smi -L" || echo "user pg cannot reach the GPU"
size=${SIZE:-short}; limit=280; [ "$size" = long ] && limit=565
for r in $(seq 1 "${RUNS:-2}"); do
  echo "== run $r, size $size"
  su pg -c "cd $C/repo/cmd/pgparquet && PGPARQUET_CHAOS=$size TMPDIR=$C/tmp PGTEST_BINDIR=$bin LD_LIBRARY_PATH=$B/syslib PGPARQUET_TEST_BINARY=self \
    PGPARQUET_CUDA_LIB=$C/libc.so PGPARQUET_NVCOMP_LIB=$C/nvcomp/libnvcomp.so.6 PGPARQUET_CHAOS_DECODER=gpu \
    timeout $limit $C/cmd.test -test.run '^TestSidecarChaos\$' -test.v -test.timeout $((limit - 5))s" 2>&1 |
    grep -v '^        20' | grep -v '^=== RUN' | cut -c1-400 | tail -45
done
echo "total: $SECONDS s"
