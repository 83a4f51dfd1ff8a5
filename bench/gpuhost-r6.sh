#!/bin/bash
# One device call on the GPU host, from the repository root:
#   run: bash bench/gpuhost-r6.sh        carry [".gpuhost"]        timeout_s 600
# .gpuhost (git-ignored) holds pg15.tar.xz, start-pg.sh and make-lineorder.sh (../shared/gpuhost),
# pgparquet.xz (CGO_ENABLED=1 go build -ldflags="-s -w" ./cmd/pgparquet, xz -9) and versitygw.xz
# (GOBIN=... go install -ldflags="-s -w" github.com/versity/versitygw/cmd/versitygw@v1.8.0, xz -9).
#
# It runs, logging to $OUT/r6.log, the figures in $OUT/r6.json (every measurement, and the ratios):
#   a fresh PostgreSQL 15 (a postmaster left by an earlier call is stopped, its /dev/shm/pgdata
#   removed), lineorder ROWS rows, logged, with a primary key (bench/gpuhost-incremental.sh load);
#   A. issue 13 (bench/gpuhost-incremental.sh run): full export, incremental snapshot run, UPDATE 1%,
#      change run, full re-export;
#   B. issue 14 item 5 (bench/gpuhost-s3.sh): local directory vs s3:// on versitygw, ROUNDS rounds;
#   then pgparquet materialize of A's chain, under a timeout of what is left of BUDGET seconds.
#
# Environment: ROWS (40000000), P (16), GPU (off), ROUNDS (2), BUDGET (540 s, the whole call),
# WORK (/dev/shm/r6), KIT (.gpuhost), MAT_MAX_ROWS (4000000: a larger chain is not materialized;
# a MAT_ROWS-row one, 2000000, is made and materialized instead); PG_MODE=gpuhost (default) or external: use the server at
# $DSN as it is (here: a PostgreSQL with wal_level=logical you started), e.g.
#   PG_MODE=external DSN=postgres://postgres@127.0.0.1:25433/postgres ROWS=200000 P=4 \
#     WORK=/dev/shm/me-r6 OUT=/tmp/me-r6 S3_ADDR=127.0.0.1:17070 bash bench/gpuhost-r6.sh
set -uo pipefail
export KIT=${KIT:-.gpuhost} WORK=${WORK:-/dev/shm/r6} ROWS=${ROWS:-40000000} P=${P:-16} GPU=${GPU:-off} ROUNDS=${ROUNDS:-2}
export DSN=${DSN:-postgres://postgres@127.0.0.1:5432/postgres}
export TABLE=${TABLE:-lineorder} MAT_MAX_ROWS=${MAT_MAX_ROWS:-4000000} MAT_ROWS=${MAT_ROWS:-2000000}
PG_MODE=${PG_MODE:-gpuhost}; BUDGET=${BUDGET:-540}
O=${OUT:-/tmp/r6-out}; mkdir -p "$O"
exec > >(tee "$O/r6.log") 2>&1
TEE=$!
echo "== r6 $(date -u +%FT%TZ): ROWS=$ROWS P=$P GPU=$GPU ROUNDS=$ROUNDS PG_MODE=$PG_MODE WORK=$WORK BUDGET=${BUDGET}s"
echo "host: $(nproc) cores, $(free -g | awk '/Mem:/{print $2 " GB RAM, " $7 " GB available"}')"
command -v nvidia-smi >/dev/null && nvidia-smi -L
df -h /dev/shm | tail -1
rm -rf "$WORK"; mkdir -p "$WORK/bin"
export RES=$WORK/results.jsonl PGPARQUET=$WORK/bin/pgparquet VERSITYGW=$WORK/bin/versitygw
for x in pgparquet versitygw; do
  xz -dc "$KIT/$x.xz" >"$WORK/bin/$x" && chmod +x "$WORK/bin/$x" || { echo "unpack $KIT/$x.xz failed"; exit 1; }
done
"$PGPARQUET" version; cat "$KIT/BUILD" 2>/dev/null

bin=/opt/pgb/usr/lib/postgresql/15/bin
if [ "$PG_MODE" = gpuhost ]; then
  # A postmaster left by an earlier call on a warm machine holds port 5432: stop it, start afresh.
  if [ -f /dev/shm/pgdata/postmaster.pid ] && [ -x $bin/pg_ctl ]; then
    su pg -c "LD_LIBRARY_PATH=/opt/pgb/syslib $bin/pg_ctl -D /dev/shm/pgdata -m immediate -w stop" || true
  fi
  if pkill -x postgres; then # one without its data directory
    for i in $(seq 20); do pgrep -x postgres >/dev/null || break; sleep 0.5; done
    pkill -9 -x postgres && sleep 1
  fi
  rm -rf /dev/shm/pgdata
  bash "$KIT/start-pg.sh" "$KIT" || { echo "start-pg.sh failed"; tail -20 /tmp/pg.log; exit 1; }
  export PATH=$bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
fi
psql "$DSN" -X -At -c "SELECT version()" -c "SHOW wal_level" || { echo "no server at $DSN"; exit 1; }
[ "$(psql "$DSN" -X -At -c 'SHOW wal_level')" = logical ] || { echo "wal_level is not logical at $DSN"; exit 1; }

declare -A rc
step() { # NAME CMD...: runs a step, records its exit status and seconds
  local t0=$SECONDS; echo; echo "######## $1 ($((SECONDS))s into the call)"
  "${@:2}"; rc[$1]=$?
  echo "######## $1: rc ${rc[$1]}, $((SECONDS - t0)) s"
  python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps({"label":"step "+sys.argv[2],"value":{"rc":int(sys.argv[3]),"s":int(sys.argv[4])}})+"\n")' \
    "$RES" "$1" "${rc[$1]}" "$((SECONDS - t0))"
}
step load bash bench/gpuhost-incremental.sh load
if [ "${rc[load]}" = 0 ]; then
  step incremental bash bench/gpuhost-incremental.sh run
  [ $((BUDGET - SECONDS)) -lt 150 ] && { echo "late: one S3 round only"; export ROUNDS=1; }
  step s3 bash bench/gpuhost-s3.sh
  left=$((BUDGET - SECONDS - 30)) # 30 s for the summary and the stop
  if [ "$ROWS" -le "$MAT_MAX_ROWS" ] && [ -d "$WORK/chain/0002-changes" ] && [ $left -ge 60 ]; then
    MAT_TIMEOUT=$((left > 300 ? 300 : left)) step materialize bash bench/gpuhost-incremental.sh materialize
  elif [ "$ROWS" -gt "$MAT_MAX_ROWS" ] && [ $left -ge 120 ]; then
    # materialize holds the table in memory: ~1.1 KB and ~30 CPU-us a row (mostly one core) measured
    # on the 2-core VM, so ~45 GB and ~10-20 min at 40M rows, over this call's budget. A smaller
    # chain of the same shape, through the same steps, gives its cost per row on this host.
    echo "materialize of the $ROWS-row chain skipped (more than MAT_MAX_ROWS=$MAT_MAX_ROWS rows: it holds the table" \
      "in memory, ~1.1 KB and ~30 CPU-us a row); instead the same steps on a $MAT_ROWS-row table ${TABLE}_m"
    TABLE=${TABLE}_m ROWS=$MAT_ROWS WORK=$WORK/m TAG="m " MAT_TIMEOUT=$((left - 60 > 240 ? 240 : left - 60)) \
      step materialize-small bash -c 'bash bench/gpuhost-incremental.sh load && bash bench/gpuhost-incremental.sh run && bash bench/gpuhost-incremental.sh materialize'
  else
    echo "materialize skipped: $left s left of the budget"
    python3 -c 'import json,sys; open(sys.argv[1],"a").write(json.dumps({"label":"materialize skipped","value":{"left_s":int(sys.argv[2])}})+"\n")' "$RES" "$left"
  fi
fi

echo; echo "######## summary ($SECONDS s into the call)"
python3 - "$RES" "$O/r6.json" <<'PY'
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
by = {r['label']: r for r in recs}
def ratio(a, b, k):
    x, y = (by.get(a) or {}).get(k), (by.get(b) or {}).get(k)
    return round(x / y, 4) if x is not None and y else None
out = {'env': {k: os.environ.get(k) for k in ('ROWS', 'P', 'GPU', 'ROUNDS')}, 'records': recs, 'ratios': {}}
R = out['ratios']
for t in ('', 'm '):
    for k in ('wall_s', 'cpu_s', 'host_cpu_s', 'output_bytes', 'rss_gb'):
        if f'{t}inc changes' in by:
            R[f'{t}changes/full-2 {k}'] = ratio(f'{t}inc changes', f'{t}inc full-2', k)
            R[f'{t}snapshot/full-1 {k}'] = ratio(f'{t}inc snapshot', f'{t}inc full-1', k)
rounds = sorted({l.split('-')[-1] for l in by if l.startswith('s3 s3-') and not l.endswith('versitygw')})
for n in rounds:
    for k in ('wall_s', 'cpu_s', 'host_cpu_s', 'rss_gb', 'gbps'):
        R[f's3/local round {n} {k}'] = ratio(f's3 s3-{n}', f's3 local-{n}', k)
    v, l = by.get(f's3 s3-{n} versitygw'), by.get(f's3 local-{n}')
    if v and l and by.get(f's3 s3-{n}') and l.get('cpu_s'):
        R[f'(s3 + versitygw)/local round {n} cpu_s'] = round((by[f's3 s3-{n}']['cpu_s'] + v['value']['versitygw_cpu_s']) / l['cpu_s'], 4)
g = lambda lab: [by[f'{lab}-{n}']['gbps'] for n in rounds if by.get(f'{lab}-{n}', {}).get('gbps')]
if g('s3 s3') and g('s3 local'):
    R['s3/local throughput, mean of rounds'] = round(sum(g('s3 s3')) / len(g('s3 s3')) / (sum(g('s3 local')) / len(g('s3 local'))), 4)
C = out['checks'] = {}
for t in ('', 'm '):
    n = (by.get(f'{t}load') or {}).get('value', {}).get('rows')
    if n is None: continue
    for lab in ('inc full-1', 'inc snapshot', 'inc full-2', 'materialize'):
        if f'{t}{lab}' in by: C[f'{t}{lab} rows == {n}'] = by[f'{t}{lab}']['rows'] == n
    u = (by.get(f'{t}update') or {}).get('value', {}).get('rows')
    if f'{t}inc changes' in by: C[f'{t}changes ops == update {u}'] = by[f'{t}inc changes']['ops'] == {'update': u}
n = (by.get('load') or {}).get('value', {}).get('rows')
for lab in by:
    if lab.startswith('s3 ') and 'wall_s' in by[lab]: C[f'{lab} rows == {n}'] = by[lab]['rows'] == n
json.dump(out, open(sys.argv[2], 'w'), indent=1)
print(f"{'run':<22}{'rc':>3}{'wall s':>9}{'CPU-s':>8}{'host CPU-s':>11}{'RSS GB':>8}{'GB/s':>7}{'rows':>11}{'out MB':>9}  ops")
for r in recs:
    if 'wall_s' in r:
        print(f"{r['label']:<22}{r['rc']:>3}{r['wall_s']:>9.2f}{r['cpu_s']:>8.1f}{r['host_cpu_s']:>11.1f}{r['rss_gb']:>8.2f}"
              f"{r['gbps'] or 0:>7.3f}{r['rows'] or 0:>11}{(r['output_bytes'] or 0)/1e6:>9.1f}  {r.get('ops') or ''}")
    else:
        print(f"{r['label']:<22}{json.dumps(r['value'])}")
for k, v in R.items():
    print(f"  {k}: {v}")
print('checks:', 'all ok' if C and all(C.values()) else 'FAILED: ' + ', '.join(k for k, v in C.items() if not v) if C else 'none')
PY

if [ "$PG_MODE" = gpuhost ]; then
  tail -c 2000000 /tmp/pg.log >"$O/pg.log" 2>/dev/null
  su pg -c "LD_LIBRARY_PATH=/opt/pgb/syslib $bin/pg_ctl -D /dev/shm/pgdata -m fast -w stop" >/dev/null
fi
cp "$RES" "$O/results.jsonl" 2>/dev/null
rm -rf "$WORK"
ok=0; for s in "${!rc[@]}"; do [ "${rc[$s]}" = 0 ] || ok=1; done
echo "== r6 done in $SECONDS s: $(for s in "${!rc[@]}"; do printf '%s rc %s; ' "$s" "${rc[$s]}"; done)"
exec >&- 2>&-; wait $TEE
exit $ok
