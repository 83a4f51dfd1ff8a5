#!/bin/bash
# Issue 13 on the GPU host (or here, small): what an incremental change run costs against a full
# re-export of the same table. Needs a running PostgreSQL 14+ with wal_level=logical (start-pg.sh
# makes one) and psql on the PATH; bench/gpuhost-r6.sh runs it in one device call.
#
#   bench/gpuhost-incremental.sh load         lineorder (make-lineorder.sh's rows, but LOGGED: an
#                                             unlogged table cannot be published), a primary key on
#                                             (lo_orderkey, lo_linenumber), VACUUM ANALYZE
#   bench/gpuhost-incremental.sh run          (1) full export, (2) incremental snapshot run,
#                                             (3) UPDATE 1% of the rows, (4) incremental change run,
#                                             (5) full re-export; each export measured
#   bench/gpuhost-incremental.sh materialize  pgparquet materialize of the chain (holds the whole table
#                                             in memory), under `timeout MAT_TIMEOUT`
#
# Environment (GPU-host defaults): DSN (postgres://postgres@127.0.0.1:5432/postgres), TABLE
# (lineorder), ROWS (40000000), P (16: load sessions and --parallel), GPU (off: --gpu; the
# comparisons are within one path), GPU_LIB (--gpu-lib, when set), PGPARQUET (.gpuhost/pgparquet),
# KIT (.gpuhost: make-lineorder.sh), WORK (/dev/shm/r6: outputs, deleted between runs),
# RES ($WORK/results.jsonl: one JSON object a measurement), TAG (a prefix of every label: ''),
# MAT_TIMEOUT (240 s).
set -euo pipefail
DSN=${DSN:-postgres://postgres@127.0.0.1:5432/postgres}
TABLE=${TABLE:-lineorder}; ROWS=${ROWS:-40000000}; P=${P:-16}; GPU=${GPU:-off}
KIT=${KIT:-.gpuhost}; PGPARQUET=${PGPARQUET:-$KIT/pgparquet}; WORK=${WORK:-/dev/shm/r6}
RES=${RES:-$WORK/results.jsonl}; MAT_TIMEOUT=${MAT_TIMEOUT:-240}; TAG=${TAG:-}
SLOT=r6_${TABLE}
mkdir -p "$WORK"
q() { psql "$DSN" -X -v ON_ERROR_STOP=1 -At "$@"; }
gpuflags=(--gpu "$GPU"); [ -n "${GPU_LIB:-}" ] && gpuflags+=(--gpu-lib "$GPU_LIB")

# mrun LABEL CMD...: runs CMD (a pgparquet export or materialize, JSON on stdout), prints one line
# and appends one JSON object to $RES: wall s, CPU s (user+sys) and peak RSS of the child, the
# host's busy CPU s over the run (/proc/stat: PostgreSQL's backends included), and from the
# command's JSON rows, COPY bytes, output bytes, files, rows per op, timings. A run past
# MRUN_TIMEOUT seconds (180) is killed and recorded with rc 124.
mrun() {
  python3 - "$RES" "$@" <<'PY'
import json, os, resource, subprocess, sys, time
res, label, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
tck = os.sysconf('SC_CLK_TCK')
def busy():
    f = [int(x) for x in open('/proc/stat').readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / tck  # all but idle and iowait
b0, t = busy(), time.time()
try: r = subprocess.run(argv, capture_output=True, text=True, timeout=float(os.environ.get('MRUN_TIMEOUT', '180')))
except subprocess.TimeoutExpired as e:  # killed: a hung run must not take the rest of the call with it
    r = subprocess.CompletedProcess(argv, 124, '', f"killed after MRUN_TIMEOUT={os.environ.get('MRUN_TIMEOUT', '180')} s; stderr: "
                                    + (e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else (e.stderr or '')))
wall, b1 = time.time() - t, busy()
u = resource.getrusage(resource.RUSAGE_CHILDREN)
try: doc = json.loads(r.stdout)
except Exception: doc = {}
files = doc.get('files') if isinstance(doc.get('files'), list) else []
inc = doc.get('incremental') or {}
out = doc.get('output_bytes') or sum(f.get('bytes', 0) for f in files)
rec = dict(label=label, rc=r.returncode, wall_s=round(wall, 3), cpu_s=round(u.ru_utime + u.ru_stime, 2),
           user_s=round(u.ru_utime, 2), sys_s=round(u.ru_stime, 2), rss_gb=round(u.ru_maxrss / 1048576, 3),
           host_cpu_s=round(b1 - b0, 1), rows=doc.get('rows'), copy_bytes=doc.get('copy_bytes'),
           output_bytes=out, files=len(files), decoder=doc.get('decoder'),
           gbps=round(doc['copy_bytes'] / 1e9 / wall, 3) if doc.get('copy_bytes') else None,
           mode=inc.get('mode'), ops=inc.get('ops'), from_lsn=inc.get('from_lsn'), to_lsn=inc.get('to_lsn'),
           timings=doc.get('timings'), argv=argv)
if 'file' in doc: rec['materialize'] = doc  # materialize's result: file, rows, runs, lsn
if r.returncode: rec['stderr'] = r.stderr[-3000:]
with open(res, 'a') as f: f.write(json.dumps(rec) + '\n')
print(f"{label}: rc {r.returncode} {wall:.2f} s, {rec['cpu_s']} CPU-s (host {rec['host_cpu_s']}), RSS {rec['rss_gb']:.2f} GB, "
      f"{rec['gbps']} GB/s, rows {rec['rows']}, files {len(files)}, out {out/1e6:.1f} MB, ops {rec['ops']}, "
      f"decoder {rec['decoder']}, timings {rec['timings']}", flush=True)
if r.returncode: print(r.stderr[-3000:], flush=True)
sys.exit(r.returncode)
PY
}

# note KEY JSON-VALUE: one extra figure in $RES.
note() { python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps({"label":sys.argv[2],"value":json.loads(sys.argv[3])})+"\n")' "$RES" "$TAG$1" "$2"; }

load() {
  local t0=$SECONDS src
  src=$(sed 's/CREATE UNLOGGED TABLE/CREATE TABLE/' "$KIT/make-lineorder.sh")
  grep -q 'CREATE TABLE' <<<"$src" || { echo "make-lineorder.sh no longer says CREATE UNLOGGED TABLE: check the load"; return 1; }
  q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT'" -c "DROP PUBLICATION IF EXISTS $SLOT" >/dev/null
  local u=${DSN#*://}; u=${u%%@*}; local hp=${DSN#*@}; hp=${hp%%/*}
  local out n
  out=$(PGHOST=${hp%:*} PGPORT=${hp##*:} PGUSER=$u PGDATABASE=${DSN##*/} ROWS=$ROWS P=$P bash -c "$src" -- "$TABLE")
  echo "$out"
  n=$(sed -n "s/^$TABLE: \([0-9]*\) rows.*/\1/p" <<<"$out")
  [ "$n" = "$ROWS" ] || { echo "load: $TABLE has ${n:-?} rows, not $ROWS"; return 1; }
  local t1=$SECONDS
  # (lo_orderkey, lo_linenumber) = (g/4, g%7): four consecutive g have four different g%7, so unique.
  q -c "SET maintenance_work_mem = '8GB'" -c "SET max_parallel_maintenance_workers = 8" \
    -c "ALTER TABLE $TABLE ADD PRIMARY KEY (lo_orderkey, lo_linenumber)" -c "VACUUM ANALYZE $TABLE" >/dev/null
  echo "load: $ROWS rows (logged) in $((t1 - t0)) s, primary key and VACUUM ANALYZE in $((SECONDS - t1)) s;" \
    "heap $(q -c "SELECT pg_size_pretty(pg_relation_size('$TABLE'))"), pk $(q -c "SELECT pg_size_pretty(pg_indexes_size('$TABLE'))")"
  note load "{\"rows\": $ROWS, \"load_s\": $((t1 - t0)), \"pk_vacuum_s\": $((SECONDS - t1))}"
}

export_full() { # LABEL DIR
  mrun "$1" "$PGPARQUET" export --dsn "$DSN" --table "$TABLE" --output-dir "$2" --parallel "$P" "${gpuflags[@]}" --no-progress
}
export_inc() { # LABEL
  mrun "$1" "$PGPARQUET" export --incremental --slot "$SLOT" --dsn "$DSN" --table "$TABLE" --output-dir "$WORK/chain" \
    --parallel "$P" "${gpuflags[@]}" --no-progress
}

run() {
  local n
  n=$(q -c "SELECT count(*) FROM pg_index WHERE indrelid = '$TABLE'::regclass AND indisprimary")
  [ "$n" = 1 ] || { echo "$TABLE has no primary key: run '$0 load' first"; return 1; }
  q -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT'" -c "DROP PUBLICATION IF EXISTS $SLOT" >/dev/null
  rm -rf "$WORK/full" "$WORK/chain" "$WORK/refull"
  echo "== (1) full export, P=$P, --gpu $GPU"
  export_full "${TAG}inc full-1" "$WORK/full"; rm -rf "$WORK/full"
  echo "== (2) incremental: the snapshot run"
  export_inc "${TAG}inc snapshot"
  echo "== (3) UPDATE 1% of the rows (a non-key column)"
  local t=$(date +%s.%N) out
  out=$(PGOPTIONS="-c statement_timeout=180s" q -c "UPDATE $TABLE SET lo_quantity = lo_quantity + 1 WHERE lo_orderkey % 100 = 0")
  local s=$(python3 -c "import sys; print(round($(date +%s.%N) - $t, 2))")
  echo "update: $out in $s s"
  note update "{\"rows\": ${out#UPDATE }, \"wall_s\": $s}"
  echo "== (4) incremental: the change run"
  export_inc "${TAG}inc changes"
  echo "== (5) full re-export"
  export_full "${TAG}inc full-2" "$WORK/refull"; rm -rf "$WORK/refull"
  du -sb "$WORK"/chain/*/ | sed 's/^/chain: /'
  note chain_bytes "$(du -sb "$WORK"/chain/*/ | python3 -c 'import json,sys,os; print(json.dumps({os.path.basename(p.rstrip("/")): int(b) for b, p in (l.split() for l in sys.stdin)}))')"
}

materialize() {
  [ -d "$WORK/chain" ] || { echo "no chain in $WORK/chain: run '$0 run' first"; return 1; }
  rm -rf "$WORK/mat"
  echo "== materialize of the chain (timeout ${MAT_TIMEOUT}s)"
  local rc=0
  MRUN_TIMEOUT=$((MAT_TIMEOUT + 30)) mrun "${TAG}materialize" timeout "$MAT_TIMEOUT" "$PGPARQUET" materialize --input "$WORK/chain" --output-dir "$WORK/mat" || rc=$?
  [ $rc = 124 ] && echo "materialize: stopped at the ${MAT_TIMEOUT}s timeout"
  ls -l "$WORK/mat" 2>/dev/null || true
  rm -rf "$WORK/mat"
  return $rc
}

case "${1:-}" in
  load|run|materialize) "$1" ;;
  *) echo "usage: $0 load|run|materialize"; exit 2 ;;
esac
