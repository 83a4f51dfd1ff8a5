#!/bin/bash
# On the GPU host, from the repository root (session 22): when a CLI export's GPU is ready,
# against when its COPYs start. Lineorder 40M and wide 10M, P=16, zstd, two CLI exports each on
# the GPU writer; each log line's message printed with its time from the launch (wall clock of
# this host), and the result's timings.
#   KIT (default .gpuhost/s22c, carried): base files and pgparquet.xz. NAME (log name, default
#   s22h), TABLES (default "lineorder wide"). s22i: NAME=s22i TABLES=wide, with the probe's
#   step times in the "decoding on the GPU" line.
set -uo pipefail
K=${KIT:-.gpuhost/s22c}; O=${OUT:-/tmp/s22h-out}; N=${NAME:-s22h}; T=${TABLES:-lineorder wide}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
for t in $T; do
  for r in 1 2; do
    rm -rf /dev/shm/s22-out
    echo "== $t run $r"
    env PGPARQUET_NVCOMP_LIB="$nv" python3 - "$K/pgparquet" "$t" "$lib" <<'PY'
import datetime, json, subprocess, sys, time
bin, t, lib = sys.argv[1:4]
t0 = time.time()
r = subprocess.run([bin, "export", "--dsn", "postgres://postgres@127.0.0.1:5432/postgres", "--table", t,
                    "--output-dir", "/dev/shm/s22-out", "--overwrite", "--parallel", "16", "--gpu-lib", lib,
                    "--no-progress", "--log-format", "json"], capture_output=True, text=True)
t1 = time.time()
for line in r.stderr.splitlines():
    try:
        d = json.loads(line)
    except Exception:
        print("   ", line[:200]); continue
    ts = datetime.datetime.fromisoformat(d.pop("time").replace("Z", "+00:00")).timestamp()
    d.pop("level", None)
    print(f"  {ts - t0:7.3f} s  {d.pop('msg')}  {json.dumps(d)[:220]}")
doc = json.loads(r.stdout) if r.stdout.strip() else {}
print(f"  {t1 - t0:7.3f} s  exit rc {r.returncode}; timings {doc.get('timings')}")
PY
  done
done
echo "total: $SECONDS s"
