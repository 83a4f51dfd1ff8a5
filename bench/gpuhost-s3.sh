#!/bin/bash
# Issue 14 item 5 on the GPU host (or here, small): a local-directory export against an S3 export
# of the same table, interleaved, ROUNDS rounds, the S3 server (versitygw, POSIX backend in
# $WORK/s3) on loopback on the same host. Needs a loaded table (bench/gpuhost-incremental.sh load,
# or make-lineorder.sh) and python3; bench/gpuhost-r6.sh runs it in one device call.
#
# Each export is measured by mrun (bench/gpuhost-incremental.sh's: wall, CPU s and peak RSS of
# pgparquet, host CPU s); for the S3 runs versitygw's own CPU seconds over the run (utime+stime
# from /proc/PID/stat) and its peak RSS (VmHWM) are added: the gateway competes for the same cores.
#
# Environment: as bench/gpuhost-incremental.sh (DSN, TABLE, P, GPU, GPU_LIB, PGPARQUET, KIT, WORK,
# RES), plus ROUNDS (2), VERSITYGW ($KIT/versitygw), S3_ADDR (127.0.0.1:7070; the admin API on the
# next port), BUCKET (r6bench).
set -euo pipefail
DSN=${DSN:-postgres://postgres@127.0.0.1:5432/postgres}
TABLE=${TABLE:-lineorder}; P=${P:-16}; GPU=${GPU:-off}; ROUNDS=${ROUNDS:-2}
KIT=${KIT:-.gpuhost}; PGPARQUET=${PGPARQUET:-$KIT/pgparquet}; VERSITYGW=${VERSITYGW:-$KIT/versitygw}
WORK=${WORK:-/dev/shm/r6}; RES=${RES:-$WORK/results.jsonl}
S3_ADDR=${S3_ADDR:-127.0.0.1:7070}; BUCKET=${BUCKET:-r6bench}
ADMIN_ADDR=${S3_ADDR%:*}:$((${S3_ADDR##*:} + 1))
gpuflags=(--gpu "$GPU"); [ -n "${GPU_LIB:-}" ] && gpuflags+=(--gpu-lib "$GPU_LIB")
ACCESS=r6-root SECRET=r6-secret-5b1d0c93e2
# mrun: the same helper as the incremental benchmark (one definition, in that script)
eval "$(sed -n '/^mrun() {$/,/^}$/p' bench/gpuhost-incremental.sh)"
declare -F mrun >/dev/null || { echo "mrun not found in bench/gpuhost-incremental.sh"; exit 1; }

rm -rf "$WORK/s3" "$WORK/local"; mkdir -p "$WORK/s3/data" "$WORK/s3/iam"
"$VERSITYGW" --port "$S3_ADDR" --admin-port "$ADMIN_ADDR" --access "$ACCESS" --secret "$SECRET" --region us-east-1 \
  --iam-dir "$WORK/s3/iam" --quiet posix "$WORK/s3/data" >"$WORK/s3/versitygw.log" 2>&1 &
VGW=$!
trap 'kill $VGW 2>/dev/null; wait $VGW 2>/dev/null; rm -rf "$WORK/s3" "$WORK/local"' EXIT
for i in $(seq 100); do
  (exec 3<>"/dev/tcp/${ADMIN_ADDR%:*}/${ADMIN_ADDR##*:}") 2>/dev/null && (exec 3<>"/dev/tcp/${S3_ADDR%:*}/${S3_ADDR##*:}") 2>/dev/null && break
  kill -0 $VGW 2>/dev/null || { echo "versitygw exited:"; cat "$WORK/s3/versitygw.log"; exit 1; }
  sleep 0.1
done
"$VERSITYGW" admin --access "$ACCESS" --secret "$SECRET" --endpoint-url "http://$ADMIN_ADDR" \
  create-bucket --owner "$ACCESS" --bucket "$BUCKET"
echo "versitygw pid $VGW on $S3_ADDR (admin $ADMIN_ADDR), bucket $BUCKET in $WORK/s3/data"

# vgw_mark NAME: versitygw's CPU seconds and peak RSS now, into $WORK/s3/NAME.
vgw_mark() {
  python3 - $VGW "$WORK/s3/$1" <<'PY'
import os, sys, json
pid, out = sys.argv[1], sys.argv[2]
st = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
cpu = (int(st[11]) + int(st[12])) / os.sysconf('SC_CLK_TCK')
hwm = next(int(l.split()[1]) for l in open(f'/proc/{pid}/status') if l.startswith('VmHWM:'))
json.dump({'cpu_s': cpu, 'hwm_gb': hwm / 1048576}, open(out, 'w'))
PY
}
# vgw_note LABEL: versitygw's CPU over the run just measured, and its peak RSS, into $RES.
vgw_note() {
  python3 - "$RES" "$1" "$WORK/s3/a" "$WORK/s3/b" <<'PY'
import json, sys
res, label, a, b = sys.argv[1:]
a, b = json.load(open(a)), json.load(open(b))
rec = {'label': label, 'value': {'versitygw_cpu_s': round(b['cpu_s'] - a['cpu_s'], 2), 'versitygw_hwm_gb': round(b['hwm_gb'], 3)}}
open(res, 'a').write(json.dumps(rec) + '\n')
print(f"   versitygw over that run: {rec['value']['versitygw_cpu_s']} CPU-s, peak RSS {rec['value']['versitygw_hwm_gb']:.2f} GB")
PY
}
# check_s3 PREFIX: the objects on the backend's disk against the manifest (names, sizes).
check_s3() {
  python3 - "$WORK/s3/data/$BUCKET/$1" <<'PY'
import json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, '_manifest.json')))
bad = [f['name'] for f in m['files'] if os.path.getsize(os.path.join(d, f['name'])) != f['bytes']]
print(f"   s3 objects: {len(m['files'])} files + manifest, {m['rows']} rows, sizes {'match' if not bad else 'DIFFER: ' + str(bad)}")
sys.exit(1 if bad else 0)
PY
}

export AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET AWS_ENDPOINT_URL=http://$S3_ADDR AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$WORK/s3/none AWS_SHARED_CREDENTIALS_FILE=$WORK/s3/none AWS_PROFILE= AWS_SESSION_TOKEN= AWS_ENDPOINT_URL_S3=
rc=0
for r in $(seq "$ROUNDS"); do
  echo "== round $r: local directory, P=$P, --gpu $GPU"
  mrun "s3 local-$r" "$PGPARQUET" export --dsn "$DSN" --table "$TABLE" --output-dir "$WORK/local" \
    --parallel "$P" "${gpuflags[@]}" --no-progress || rc=1
  rm -rf "$WORK/local"
  echo "== round $r: s3://$BUCKET/x$r (versitygw on loopback)"
  vgw_mark a
  mrun "s3 s3-$r" "$PGPARQUET" export --dsn "$DSN" --table "$TABLE" --output-dir "s3://$BUCKET/x$r" --s3-path-style \
    --parallel "$P" "${gpuflags[@]}" --no-progress || rc=1
  vgw_mark b; vgw_note "s3 s3-$r versitygw"
  check_s3 "x$r" || rc=1
  rm -rf "${WORK:?}/s3/data/$BUCKET/x$r"
done
kill -0 $VGW 2>/dev/null || { echo "versitygw died:"; tail -20 "$WORK/s3/versitygw.log"; rc=1; }
exit $rc
