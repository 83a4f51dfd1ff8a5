#!/bin/bash
# On the GPU host (no Go there), from the repository root: issue 12's targets in one call per
# table set. Loads lineorder (ROWS, default 40M) and bench/load's wide table (WIDE_ROWS, default
# 10M), then per table: the source limit (P psql COPYs of ctid ranges, bytes counted), the
# exports interleaved over ROUNDS rounds in MODES (pages: GPU decode + GPU page writer; arrow:
# GPU decode + arrow-go writer; pagesx: pages with the settings in $PAGESX, e.g.
# PAGESX=PGPARQUET_GPU_ZSTD_BATCH=32,4,256 (VAR=VALUE words); cpu: the CPU path (the GPU writer's file path on its CPU twins
# since session 12); cpuarrow: the CPU path through arrow-go's FileWriter
# ($PGPARQUET_PAGE_WRITER=off); duckdb: DuckDB's postgres extension, when
# its wheels were installed by an earlier call), and the pipeline alone (export.test's
# TestPipelineAlone: the lanes over COPY buffers received beforehand into pinned memory). CPU
# profiles of round 1 (bench/cpusplit reads them here). Logs, JSON and profiles in $OUT.
#   KIT (default .gpuhost/r8a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql (go run ./bench/load --shape wide --print-sql), nvcomp.tar.xz, pgparquet-c.xz,
#   export.test.xz (both CGO_ENABLED=1 -ldflags="-s -w").
#   TABLES (default "lineorder wide"), P (16), ROUNDS (2), MODES ("pages arrow cpu duckdb"),
#   PIPELINE ("pages": page-writer settings for TestPipelineAlone; "" skips it),
#   REUSE=1 keeps PostgreSQL and its tables from an earlier call on a warm machine.
#   PIPELINE_NVCOMP=off runs the pipeline alone without GPU compression.
#   TRACE=1 also writes Go execution traces of round 1 and of the pipeline alone (xz'd;
#   go run ./bench/traceregions reads them: each lane stage's wall time and how it was spent).
set -uo pipefail
K=${KIT:-.gpuhost/r8a}; O=${OUT:-/tmp/r8-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
P=${P:-16}; ROUNDS=${ROUNDS:-2}
mkdir -p "$O"
exec > >(tee -a "$O/r8.log") 2>&1
nproc; nvidia-smi -L; date
if [ "${REUSE:-0}" != 1 ]; then
  pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
fi
for f in pgparquet-c export.test; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
source bench/gpuhost-cuda-lib.sh
cuda_lib || exit 1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
if [ "${REUSE:-0}" != 1 ] || ! pg_isready -q; then
  bash "$K/start-pg.sh" "$K" || exit 1
fi
source bench/gpuhost-load-wide.sh
for t in ${TABLES:-lineorder wide}; do
  n=$(psql -Atc "SELECT count(*) FROM $t" 2>/dev/null || echo 0)
  case $t in
    lineorder) [ "$n" = "$ROWS" ] || ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1 ;;
    wide) [ "$n" = "$WIDE_ROWS" ] || load_wide || exit 1 ;;
  esac
done
source bench/gpuhost-measure.sh
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
duck=$(python3 -c 'import duckdb, duckdb_extension_postgres_scanner' 2>/dev/null && echo yes)
case " ${MODES:-} " in *" sidecar "*) source bench/gpuhost-sidecar.sh; sidecar_start "$K/pgparquet-c" ${TABLES:-lineorder wide} || exit 1 ;; esac
for t in ${TABLES:-lineorder wide}; do
  echo "== $t"
  source_limit "$t" "$P"
  for round in $(seq 1 "$ROUNDS"); do
    for mode in ${MODES:-pages arrow cpu duckdb}; do
      prof=""
      [ "$round" = 1 ] && prof="--cpu-profile $O/$t-$mode.pprof"
      [ "$round" = 1 ] && [ "${TRACE:-0}" = 1 ] && prof="$prof --trace $O/$t-$mode.trace"
      case $mode in
        pages) PGPARQUET_NVCOMP_LIB=$nv measure "$t round $round gpu writer" "$K/pgparquet-c" export --dsn $dsn --table "$t" \
          --output-dir /dev/shm/r8-out --overwrite --parallel "$P" --gpu on --gpu-lib "$lib" --no-progress $prof ;;
        pagesx) (export ${PAGESX:?pagesx needs PAGESX}; PGPARQUET_NVCOMP_LIB=$nv measure "$t round $round gpu writer, $PAGESX" "$K/pgparquet-c" \
          export --dsn $dsn --table "$t" --output-dir /dev/shm/r8-out --overwrite --parallel "$P" --gpu on --gpu-lib "$lib" --no-progress) ;;
        arrow) PGPARQUET_PAGE_WRITER=off PGPARQUET_NVCOMP_LIB=$nv measure "$t round $round gpu decode + arrow-go" "$K/pgparquet-c" export \
          --dsn $dsn --table "$t" --output-dir /dev/shm/r8-out --overwrite --parallel "$P" --gpu on --gpu-lib "$lib" --no-progress $prof ;;
        cpu) measure "$t round $round cpu" "$K/pgparquet-c" export --dsn $dsn --table "$t" \
          --output-dir /dev/shm/r8-out --overwrite --parallel "$P" --gpu off --no-progress $prof ;;
        cpuarrow) PGPARQUET_PAGE_WRITER=off measure "$t round $round cpu, arrow-go's writer" "$K/pgparquet-c" export --dsn $dsn \
          --table "$t" --output-dir /dev/shm/r8-out --overwrite --parallel "$P" --gpu off --no-progress $prof ;;
        sidecar) sidecar_request "$t" "$t round $round sidecar" ;;
        duckdb)
          [ -n "$duck" ] || { echo "$t round $round duckdb: not installed"; continue; }
          mkdir -p /dev/shm/r8-out && python3 - "$t" "$P" <<'PY'
import os, resource, sys, time, duckdb, duckdb_extension_postgres_scanner as ext
t, p = sys.argv[1], int(sys.argv[2])
path = os.path.join(os.path.dirname(ext.__file__), "extensions", f"v{duckdb.__version__}", "postgres_scanner.duckdb_extension")
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute(f"SET threads={p}"); con.execute(f"LOAD '{path}'")
con.execute("ATTACH 'host=127.0.0.1 port=5432 user=postgres dbname=postgres' AS pg (TYPE postgres, READ_ONLY)")
t0 = time.time(); r0 = resource.getrusage(resource.RUSAGE_SELF)
con.execute(f"COPY (SELECT * FROM pg.public.{t}) TO '/dev/shm/r8-out/duck.parquet' (FORMAT parquet, COMPRESSION zstd)")
wall = time.time() - t0; r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
print(f"{t} duckdb {duckdb.__version__}: {wall:.2f} s, {cpu:.1f} CPU-s, RSS {r1.ru_maxrss/1048576:.2f} GB, parquet {os.path.getsize('/dev/shm/r8-out/duck.parquet')/1e9:.3f} GB")
PY
          ;;
      esac
      rm -rf /dev/shm/r8-out
    done
  done
  for w in ${PIPELINE-pages}; do
    case $w in pages) pw="" ;; *) pw=$w ;; esac
    (cd export && PGPARQUET_PAGE_WRITER=$pw PGPARQUET_NVCOMP_LIB=${PIPELINE_NVCOMP:-$nv} PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn \
      PGPARQUET_PIPELINE_TABLE=$t PGPARQUET_PIPELINE_PARALLEL=$P PGPARQUET_PIPELINE_OUT=/dev/shm/r8-pipe \
      PGPARQUET_PIPELINE_JSON="$O/$t-pipeline-$w.json" PGPARQUET_PIPELINE_PROFILE="$O/$t-pipeline-$w.pprof" \
      PGPARQUET_PIPELINE_TRACE=$([ "${TRACE:-0}" = 1 ] && echo "$O/$t-pipeline-$w.trace") \
      timeout 300 ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 | grep -E 'pipeline_test|PASS|FAIL|panic|GPU compression' | head -20)
    rm -rf /dev/shm/r8-pipe
  done
done
[ -n "${SC:-}" ] && sidecar_stop
ls "$O"/*.trace >/dev/null 2>&1 && xz -T8 "$O"/*.trace
echo "total: $SECONDS s"
