#!/bin/bash
# On the GPU host, from the repository root (session 17): does receiving cost more CPU since
# receive buffers end where a message does not fit (e577da2) rather than where less than 64 KiB
# is left? Lineorder 40M, P=16, GPU writer, three interleaved rounds of the source limit and
# the export with the landing as committed and as before ($PGPARQUET_OLD_LAND=1 in this build
# only), each printing its count of socket reads (READS, this build only); CPU profiles of
# round 1 (bench/cpusplit reads them here).
#   KIT (default .gpuhost/s17f, carried): base files and pgparquet-c.xz built from HEAD with
#   the knob and the counter (not committed).
set -uo pipefail
K=${KIT:-.gpuhost/s17f}; O=${OUT:-/tmp/s17f-out}
source bench/gpuhost-prelude.sh
gpuhost_start s17f lineorder
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label, old(0/1), round
  local prof=""
  [ "$3" = 1 ] && prof="--cpu-profile $O/lineorder-land$2.pprof"
  python3 - "$1" "$2" "$K/pgparquet-c" export --dsn $dsn --table lineorder --output-dir /dev/shm/s17f-out --overwrite \
    --parallel 16 --gpu on --gpu-lib "$lib" --no-progress $prof <<'PY'
import os, re, resource, subprocess, sys, time, json
label, old, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
env = dict(os.environ, PGPARQUET_OLD_LAND=old, PGPARQUET_NVCOMP_LIB=os.environ.get("nv", ""))
t = time.time(); r = subprocess.run(argv, capture_output=True, text=True, env=env); wall = time.time() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
doc = json.loads(r.stdout) if r.returncode == 0 else {}
reads = re.search(r"READS (\d+)", r.stderr)
print(f"{label}: rc {r.returncode} {wall:.2f} s, {u.ru_utime + u.ru_stime:.1f} CPU-s ({u.ru_utime:.1f} user, {u.ru_stime:.1f} sys), "
      f"RSS {u.ru_maxrss/1048576:.2f} GB, {doc.get('copy_bytes', 0)/1e9/wall:.3f} GB/s, reads {reads.group(1) if reads else '?'}")
if r.returncode: print(r.stderr[-1500:])
PY
  rm -rf /dev/shm/s17f-out
}
export nv
for round in 1 2 3; do
  source_limit lineorder 16
  run "r$round landing as committed" 0 $round
  run "r$round landing as before" 1 $round
done
echo "total: $SECONDS s"
