# Sourced by the GPU-host scripts of sessions 17 and 18 (and later ones): the setup they share.
# gpuhost_start NAME [TABLE...] runs with K (the carried kit) and O (the output folder) set:
#   - logs the script's stdout and stderr to $O/NAME.log as well;
#   - stops a postmaster an earlier call left on a warm machine (unless REUSE=1);
#   - unpacks the kit's xz'd programs (every *.xz but the *.tar.xz bundles);
#   - builds the CUDA library (bench/gpuhost-cuda-lib.sh: sets nv and lib);
#   - exports PostgreSQL's PATH, LD_LIBRARY_PATH and PG* variables;
#   - unless REUSE=1 (PostgreSQL and the tables of an earlier call), starts PostgreSQL from the
#     kit (start-pg.sh) and fills each TABLE: lineorder (ROWS rows, default 40M, the kit's
#     make-lineorder.sh) or wide (WIDE_ROWS rows, default 10M, the kit's wide.sql).
# It exits the script when the library or a table cannot be had.
gpuhost_start() {
  local name=$1 f t
  shift
  mkdir -p "$O"
  exec > >(tee -a "$O/$name.log") 2>&1
  [ "${REUSE:-0}" = 1 ] || { pkill -x postgres; sleep 1; }
  for f in "$K"/*.xz; do
    case "$f" in *.tar.xz) continue ;; esac
    [ -e "$f" ] && xz -dkf "$f" && chmod +x "${f%.xz}"
  done
  source bench/gpuhost-cuda-lib.sh
  cuda_lib || { echo "no CUDA library"; exit 1; }
  export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
  [ "${REUSE:-0}" = 1 ] && return 0
  bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
  for t in "$@"; do
    case $t in
      lineorder) ROWS=${ROWS:-40000000} bash "$K/make-lineorder.sh" lineorder || exit 1 ;;
      wide) WIDE_ROWS=${WIDE_ROWS:-10000000}; source bench/gpuhost-load-wide.sh; load_wide || exit 1 ;;
      *) echo "gpuhost_start: no table $t"; exit 1 ;;
    esac
  done
}

# ab_loop FN LABEL...: once PostgreSQL and the tables are up, runs compared in one call: for
# each of TABLES (default lineorder wide), two interleaved rounds of the source limit (P=16),
# then FN TABLE ROUND LABEL for each LABEL. It sources measure (bench/gpuhost-measure.sh) for FN.
ab_loop() {
  local fn=$1 t round label
  shift
  source bench/gpuhost-measure.sh
  source bench/gpuhost-source-limit.sh
  for t in ${TABLES:-lineorder wide}; do
    for round in 1 2; do
      source_limit "$t" 16
      for label in "$@"; do
        "$fn" "$t" "$round" "$label"
      done
    done
  done
}

# ab_exports VAR "A B" [PATH...]: after gpuhost_start, exports compared in one call (ab_loop):
# for each PATH (gpu: the GPU writer with nvCOMP, the default; cpu: --gpu off) one export with
# VAR=A and one with VAR=B ("-": VAR unset), P=16, zstd; round 1's exports of the paths in
# PROFILE_PATHS (default gpu) write CPU profiles to $O/TABLE-VALUE.pprof for gpu,
# $O/TABLE-PATH-VALUE.pprof for the others (VALUE "unset" for "-"; bench/cpusplit reads them).
ab_exports() {
  local var=$1 values=$2 path v labels=()
  shift 2
  for path in ${*:-gpu}; do
    for v in $values; do
      labels+=("$path/$v")
    done
  done
  ab_loop ab_export "${labels[@]}"
}

# ab_export TABLE ROUND PATH/VALUE: ab_exports' export ($var from its caller).
ab_export() {
  local t=$1 round=$2 path=${3%%/*} v=${3#*/} prof=""
  [ "$round" = 1 ] && [[ " ${PROFILE_PATHS:-gpu} " == *" $path "* ]] &&
    prof="--cpu-profile $O/$t-$([ "$path" = gpu ] || echo "$path-")${v/#-/unset}.pprof"
  (export PGPARQUET_NVCOMP_LIB=$nv; [ "$v" = - ] || export "$var=$v"
  measure "$t r$round $path $var=$v" "$K/pgparquet-c" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$t" \
    --output-dir /dev/shm/ab-out --overwrite --parallel 16 --gpu "$([ "$path" = gpu ] && echo on || echo off)" --gpu-lib "$lib" \
    --no-progress $prof | grep -v "^ *time=\|compression")
  rm -rf /dev/shm/ab-out
}

# measure_lib: after gpuhost_start, builds the measurement build of the CUDA library (nvcc
# -DPGPQ_MEASURE_NV: $PGPARQUET_MEASURE_NV skips nvCOMP's work, and the files it writes are not
# valid; device/cuda/nvcomp.cu) into $K/libm.so and sets mlib to its path.
measure_lib() {
  build_cuda_lib "$K/libm.so" -DPGPQ_MEASURE_NV
  mlib=$(realpath "$K/libm.so")
}

# pipeline_alone LABEL LIB [VAR=VALUE...]: after gpuhost_start, TestPipelineAlone (the kit's
# export.test) on TABLE (default lineorder) at P=16 with the CUDA library LIB and the given
# environment; prints its figures, and what failed, prefixed with LABEL.
pipeline_alone() {
  local label=$1 l=$2
  shift 2
  env "$@" PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$l PGPARQUET_PIPELINE_DSN=postgres://postgres@127.0.0.1:5432/postgres \
    PGPARQUET_PIPELINE_TABLE=${TABLE:-lineorder} PGPARQUET_PIPELINE_PARALLEL=16 PGPARQUET_PIPELINE_OUT=/dev/shm/pipeline-alone \
    bash -c "cd export && timeout 200 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1" |
    grep -E 'pipeline alone|measurement build|FAIL|panic|Error|ignored' | sed "s/^/$label: /" | cut -c1-300
  rm -rf /dev/shm/pipeline-alone
}

# cpu_export TABLE ROUND V: for ab_loop, one --gpu off export (P=16, zstd) with the kit's
# binary pgparquet-V, to compare builds (bench/gpuhost-s19i.sh, -s20c.sh).
cpu_export() {
  measure "$1 r$2 cpu $3" "$K/pgparquet-$3" export --dsn postgres://postgres@127.0.0.1:5432/postgres --table "$1" \
    --output-dir /dev/shm/cpu-export-out --overwrite --parallel 16 --gpu off --no-progress | grep -v "^ *time=\|compression"
  rm -rf /dev/shm/cpu-export-out
}

# gpu_writer_halves: after gpuhost_start, the produce halves of TestGPUWriterRandomTables and
# TestGPUWriterStatisticsAreTrue with the kit's export.test, left in $O/random.tar.xz and
# $O/stats.tar.xz to check here as bench/gpuhost-s17b.sh says.
gpu_writer_halves() {
  local spec t v f dir
  for spec in RandomTables:RANDOM:random StatisticsAreTrue:STATS:stats; do
    IFS=: read -r t v f <<< "$spec"
    dir=/dev/shm/gpu-halves-$f
    rm -rf "$dir" && mkdir -p "$dir"
    echo "== TestGPUWriter$t, produce half"
    (cd export && env PGPARQUET_CUDA_LIB="$lib" PGPARQUET_NVCOMP_LIB="$nv" "PGPARQUET_GPU_${v}_DSN=postgres://postgres@127.0.0.1:5432/postgres" \
      "PGPARQUET_GPU_${v}_OUT=$dir" timeout 150 "../$K/export.test" -test.run "^TestGPUWriter$t\$" -test.v 2>&1 |
      grep -v '^=== RUN' | grep -v '^time=' | cut -c1-300 | tail -20)
    tar -C "$dir" -cJf "$O/$f.tar.xz" . && ls -l "$O/$f.tar.xz"
  done
}

# device_gpu_tests: after gpuhost_start, the device's GPU tests with the kit's device.test on
# fresh seeds (decoders, fused finishing, lists, numeric text, page encoder, grouping, zstd and
# the other batchers, injected CUDA and nvCOMP failures).
device_gpu_tests() {
  (cd device && PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 200 "../$K/device.test" -test.v \
    -test.run '^TestGPU(MatchesCPU|FusedMatchesCPU|ListsMatchCPU|ListPlans|NumericTextMatchesCPU|NumericTextColumns|EncodePlain|PageEncoder|Uniques|Zstd|Codecs|CUDAErrorsFallBack|EncodeFaultsFallBack|ZstdFaultFallsBack|Start)$' 2>&1 |
    grep -E '^(--- |ok|FAIL|PASS|panic)|seed' | cut -c1-260 | head -60)
}
