#!/bin/bash
# On the GPU host, from the repository root (session 14): the CUDA library's CPU per call
# measured with the thread CPU clock (device/cuda/callstats.h; s14a-b's getrusage figures
# charged a wait with the CPU spent before it), on lineorder (ROWS, default 40M) with 4 and 8
# MiB receive buffers and on wide (WIDE_ROWS, default 5M), P=16, the GPU writer.
# Runs as bench/gpuhost-s14a.sh does (user and system CPU apart; the library's counters where
# $PGPARQUET_CUDA_CALLSTATS is set).
#   KIT (default .gpuhost/s14c, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   wide.sql, nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14c}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000} WIDE_ROWS=${WIDE_ROWS:-5000000}
mkdir -p "$O"
pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
uname -a; nproc; grep -m1 "model name" /proc/cpuinfo; grep -o -m1 -w "sha_ni" /proc/cpuinfo
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label table gpu-mode buffer-size VAR=value...
  local label=$1 table=$2 gpu=$3 buf=$4; shift 4
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 - "$label" "$K/pgparquet-c" export --dsn $dsn --table "$table" \
    --output-dir /dev/shm/s14c --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress --buffer-size "$buf" <<'PY'
import json, resource, subprocess, sys, time
label, argv = sys.argv[1], sys.argv[2:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t = time.time(); r = subprocess.run(argv, capture_output=True, text=True); wall = time.time() - t
u = resource.getrusage(resource.RUSAGE_CHILDREN)
user, sys_ = u.ru_utime - before.ru_utime, u.ru_stime - before.ru_stime
doc = {}
try: doc = json.loads(r.stdout)
except Exception: pass
gb = doc.get('copy_bytes', 0) / 1e9
print(f"{label}: rc {r.returncode} {wall:.2f} s, {gb / wall:.3f} GB/s, user {user:.2f} s, system {sys_:.2f} s, "
      f"{(user + sys_) / max(gb, 1e-9):.2f} CPU-s/GB, RSS {u.ru_maxrss / 1048576:.2f} GiB, decoder {doc.get('decoder')}, "
      f"voluntary switches {u.ru_nvcsw - before.ru_nvcsw}, involuntary {u.ru_nivcsw - before.ru_nivcsw}, "
      f"minor faults {u.ru_minflt - before.ru_minflt}")
for line in r.stderr.splitlines():
    if line.startswith(("CUDA call", "cuda", "pgpq_", "nvCOMP", "stream", "open/")): print("   ", line)
if r.returncode: print(r.stderr[-2000:])
PY
  rm -rf /dev/shm/s14c
}
{
  for round in 1 2; do
    run "lineorder, callstats" lineorder on 4MiB PGPARQUET_CUDA_CALLSTATS=1
  done
  run "lineorder, 8MiB, callstats" lineorder on 8MiB PGPARQUET_CUDA_CALLSTATS=1
  run "lineorder" lineorder on 4MiB
  run "wide, callstats" wide on 4MiB PGPARQUET_CUDA_CALLSTATS=1
  run "wide" wide on 4MiB
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
