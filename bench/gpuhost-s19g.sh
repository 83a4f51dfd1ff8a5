#!/bin/bash
# On the GPU host, from the repository root (session 19): where the GPU writer's export spends
# the 0.22-0.31 s of its process's wall time outside its own total_s (the CPU path: 0.11-0.14;
# s18e): lineorder 40M, P=16, zstd, two rounds of each path. Times: the launch, the log's
# "export started" and "export finished" (JSON log), the result's write (the mtime of the
# stdout file) and the process's exit as the shell sees it.
#   KIT (default .gpuhost/s19g, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s19g}; O=${OUT:-/tmp/s19g-out}
source bench/gpuhost-prelude.sh
gpuhost_start s19g lineorder
dsn=postgres://postgres@127.0.0.1:5432/postgres
for round in 1 2; do
  for path in on off; do
    rm -rf /dev/shm/s19g-out
    t0=$(date +%s.%N)
    PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table lineorder --output-dir /dev/shm/s19g-out --overwrite \
      --parallel 16 --gpu $path --gpu-lib "$lib" --no-progress --log-format json > /dev/shm/s19g-res.json 2> /dev/shm/s19g-log.json
    t3=$(date +%s.%N)
    tj=$(stat -c %.9Y /dev/shm/s19g-res.json)
    python3 - "$round" "$path" "$t0" "$tj" "$t3" <<'PY'
import json, sys, datetime
rnd, path, t0, tj, t3 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
ts = {}
for line in open('/dev/shm/s19g-log.json'):
    try: d = json.loads(line)
    except Exception: continue
    if d.get('msg') in ('export started', 'export finished'):
        ts[d['msg']] = datetime.datetime.fromisoformat(d['time'].replace('Z', '+00:00')).timestamp()
res = json.load(open('/dev/shm/s19g-res.json'))
s, f = ts.get('export started', 0), ts.get('export finished', 0)
print(f"r{rnd} gpu {path}: wall {t3-t0:.3f} s, total_s {res['timings']['total_s']:.3f}; launch to 'export started' {s-t0:.3f}, "
      f"started to finished {f-s:.3f}, finished to result written {tj-f:.3f}, result to exit {t3-tj:.3f}; decoder {res.get('decoder')}")
PY
  done
done
echo "total: $SECONDS s"
