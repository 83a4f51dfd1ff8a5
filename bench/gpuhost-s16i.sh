#!/bin/bash
# On the GPU host, from the repository root (session 16): where an export's fixed time goes,
# on a small table (1M rows of lineorder's shape, so that the copy is short): the Go packages'
# init (GODEBUG=inittrace=1), the times from the process's start to "export started" and from
# "export finished" to its exit, with --gpu on and --gpu off, three runs each.
#   KIT (default .gpuhost/s16i): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s16i}; O=${OUT:-/tmp/s16i-out}
mkdir -p "$O"
exec > >(tee -a "$O/s16i.log") 2>&1
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=1000000 bash "$K/make-lineorder.sh" lo1m || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
GODEBUG=inittrace=1 "$K/pgparquet-c" version 2>&1 | sort -t@ -k2 | awk '{ms+=$5} END {print "init total:", ms, "ms clock"}'
GODEBUG=inittrace=1 "$K/pgparquet-c" version 2>&1 | sort -k5 -n -r | head -3
for gpu in on off; do
  for i in 1 2 3; do
    t0=$(date +%s.%N)
    PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table lo1m --output-dir /dev/shm/s16i-out --overwrite --parallel 16 \
      --gpu $gpu --gpu-lib "$lib" --no-progress > /dev/null 2> "$O/stderr.log"
    t1=$(date +%s.%N)
    python3 - "$t0" "$t1" "$O/stderr.log" "gpu $gpu run $i" <<'PY'
import sys, re, datetime
t0, t1, log, label = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
def ts(line):
    m = re.search(r'time=(\S+)', line)
    return datetime.datetime.fromisoformat(m.group(1).replace('Z', '+00:00')).timestamp() if m else None
lines = open(log).read().splitlines()
marks = {k: next((ts(l) for l in lines if k in l), None) for k in ('export started', 'decoding on the GPU', 'export finished')}
print(f"{label}: " + "; ".join(f"{k} at {v-t0:.3f}" for k, v in marks.items() if v) + f"; exit at {t1-t0:.3f}")
PY
  done
done
rm -rf /dev/shm/s16i-out "$O/stderr.log"
echo "total: $SECONDS s"
