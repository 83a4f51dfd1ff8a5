#!/bin/bash
# On the GPU host, from the repository root (session 12): the same values through every file
# path on wide 10M (text[] elements in the lanes' dictionaries, arrays and numeric text decoded
# on the CPU from the GPU's field positions): the GPU writer, the CPU path on the CPU twins and
# the CPU path through arrow-go's FileWriter ($PGPARQUET_PAGE_WRITER=off), P=16, compared per
# column as multisets of values (device.test's TestCompareExports).
#   KIT (default .gpuhost/s12h, carried): pg15.tar.xz, start-pg.sh, wide.sql, nvcomp.tar.xz,
#   pgparquet-c.xz, device.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s12h}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
exec > >(tee -a "$R/$N.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
for f in pgparquet-c device.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" || exit 1
WIDE_ROWS=${WIDE_ROWS:-10000000}
source bench/gpuhost-load-wide.sh
load_wide || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # name gpu-mode VAR=value...
  local name=$1 gpu=$2; shift 2
  env "$@" "$K/pgparquet-c" export --dsn $dsn --table wide --output-dir "/dev/shm/$name" --overwrite --parallel 16 \
    --no-progress --gpu "$gpu" --gpu-lib "$lib" > "$R/$name.json" 2> "$R/$name.err"
  echo "$name: rc $? $(grep -o '"rows":[0-9]*' "$R/$name.json" | head -1) $(grep -o 'encoded [a-z ]*\|arrow-go encodes[a-z ]*' "$R/$name.err" | head -1)"
}
run gpu on PGPARQUET_NVCOMP_LIB=$nv
run twins off
run arrow off PGPARQUET_PAGE_WRITER=off
for other in twins arrow; do
  (cd device && PGPARQUET_COMPARE_A=/dev/shm/gpu PGPARQUET_COMPARE_B=/dev/shm/$other timeout 200 ../$K/device.test \
    -test.run '^TestCompareExports$' -test.v 2>&1 | grep -E 'gpu_test|^(--- |ok|FAIL|PASS)' | head -20)
done
tar -cf "$O/$N.tar" -C "$R" .
echo "total: $SECONDS s"
