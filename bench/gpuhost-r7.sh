#!/bin/bash
# On the GPU host (no Go there), from the repository root: the GPU writer's first stage in
# exports (device/pages.go, export/pagewriter.go). (1) make test-gpu's differential tests for
# the page encoder (TestGPUEncodePlain, TestGPUPageEncoder) and compute-sanitizer on them;
# (2) lineorder exports, P=16, zstd: GPU decode + GPU page writer, GPU decode + arrow-go
# (PGPARQUET_PAGE_WRITER=off), and the CPU path, interleaved, each with a CPU profile
# (bench/cpusplit reads them here). Logs and profiles in $OUT.
#   KIT (default .gpuhost/r7, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz (CGO_ENABLED=1 -ldflags="-s -w"), device.test.xz.
#   ROWS (default 40000000), P (default 16), ROUNDS (default 2), MODES (default "pages arrow cpu
#   cputwin": GPU + page writer, GPU + arrow-go, CPU, CPU + the page writer's CPU twin),
#   SKIP_BENCH=1 for the tests alone.
set -uo pipefail
K=${KIT:-.gpuhost/r7}; O=${OUT:-/tmp/r7-out}; ROWS=${ROWS:-40000000}; P=${P:-16}; ROUNDS=${ROUNDS:-2}
mkdir -p "$O"
exec > >(tee "$O/r7.log") 2>&1
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
nproc; nvidia-smi -L
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
[ -f "$K/libc.so" ] || exit 1
lib=$(realpath "$K/libc.so")
echo "== differential tests"
(cd device && PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_REQUIRE_GPU=1 timeout 300 ../$K/device.test \
  -test.run 'TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques|TestGPUEncodeFaultsFallBack|TestGPUMatchesCPU|TestGPUParquetFiles' -test.v 2>&1 | grep -v '^=== RUN' | tail -25)
echo "== memcheck"
(cd device && PGPARQUET_GPU_QUICK=1 PGPARQUET_NVCOMP_LIB=off PGPARQUET_CUDA_LIB=$lib timeout 240 compute-sanitizer --tool memcheck \
  ../$K/device.test -test.run 'TestGPUEncodePlain|TestGPUPageEncoder|TestGPUUniques' 2>&1 | tail -4)
[ "${SKIP_BENCH:-0}" = 1 ] && exit 0
bash "$K/start-pg.sh" "$K" || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-measure.sh
for round in $(seq 1 "$ROUNDS"); do
  for mode in ${MODES:-pages arrow cpu cputwin}; do
    case $mode in
      pages) set -- on "$nv" on pages ;;
      arrow) set -- on "$nv" off arrow ;;
      cpu) set -- off off off cpu ;;
      cputwin) set -- off off cpu cputwin ;;
    esac
    PGPARQUET_PAGE_WRITER=$3 PGPARQUET_NVCOMP_LIB=$2 measure "round $round gpu=$1 writer=$4" "$K/pgparquet-c" export \
      --dsn postgres://postgres@127.0.0.1:5432/postgres --table lineorder --output-dir /dev/shm/r7-out --overwrite \
      --parallel "$P" --gpu "$1" --gpu-lib "$lib" --no-progress --cpu-profile "$O/r$round-$4.pprof"
    [ "$round" = 1 ] && python3 - /dev/shm/r7-out <<'PY'
import sys, glob, pyarrow.parquet as pq
fs = sorted(glob.glob(sys.argv[1] + '/*.parquet'))
m = pq.ParquetFile(fs[0]).metadata
rg = m.row_group(0)
print('    file 0:', m.num_rows, 'rows,', m.num_row_groups, 'row groups; row group 0:', rg.num_rows, 'rows')
for i in range(rg.num_columns):
    c = rg.column(i)
    print('     ', c.path_in_schema, c.physical_type, c.compression, c.encodings, c.total_compressed_size, c.statistics.min if c.statistics and c.statistics.has_min_max else None, c.statistics.max if c.statistics and c.statistics.has_min_max else None)
PY
    rm -rf /dev/shm/r7-out
  done
done
pg_ctl -D /dev/shm/pgdata stop -m fast >/dev/null 2>&1 || pkill -x postgres
echo "total: $SECONDS s"
