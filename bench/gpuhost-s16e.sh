#!/bin/bash
# On the GPU host, from the repository root (session 16): where wide's GPU-writer export (10M,
# P=16) spends its wall time beyond the source limit: an execution trace of the lanes' stages
# (go run ./bench/traceregions reads it here), and the times from the process's start to its
# first log line, to "export finished" and to its exit, twice.
#   KIT (default .gpuhost/s16e): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16e}; O=${OUT:-/tmp/s16e-out}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s16e.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in wide; do
  source_limit $t 16
  for i in 1 2 3; do
    tr=""; [ $i = 3 ] && tr="--trace $O/$t-gpu.trace"
    t0=$(date +%s.%N)
    PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/s16e-out --overwrite --parallel 16 \
      --gpu on --gpu-lib "$lib" --no-progress $tr > "$O/res.json" 2> "$O/stderr.log"
    t1=$(date +%s.%N)
    python3 - "$t0" "$t1" "$O/stderr.log" "$O/res.json" "$t run $i${tr:+ (traced)}" <<'PY'
import sys, re, json, datetime
t0, t1, log, res, label = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def ts(line):
    m = re.search(r'time=(\S+)', line)
    return datetime.datetime.fromisoformat(m.group(1).replace('Z', '+00:00')).timestamp() if m else None
lines = open(log).read().splitlines()
first = next((ts(l) for l in lines if ts(l)), None)
marks = {k: next((ts(l) for l in lines if k in l), None) for k in ('decoding on the GPU', 'export started', 'export finished')}
doc = json.load(open(res))
print(f"{label}: wall {t1-t0:.3f} s; first log line at {first-t0:.3f}; " + "; ".join(f"{k} at {v-t0:.3f}" for k, v in marks.items() if v) +
      f"; exit {t1-t0:.3f}; total_s {doc['timings']['total_s']:.3f}, copy_s {doc['timings']['copy_s']:.3f}")
PY
  done
done
xz -T4 "$O"/*.trace; rm -f "$O/res.json" "$O/stderr.log"
echo "total: $SECONDS s"
