#!/bin/bash
# On the GPU host, from the repository root (session 14): waiting for streams through host
# functions ($PGPARQUET_CUDA_SYNC=callback, device/cuda/wait.h) against blocking sync, which
# s14a found at about 265 µs of CPU per wait; and receive buffers of 8 MiB against 4 MiB (half
# the device calls per GB). Lineorder (ROWS, default 40M), P=16, the GPU writer, interleaved.
# Runs as bench/gpuhost-s14a.sh does (user and system CPU apart; the library's counters where
# $PGPARQUET_CUDA_CALLSTATS is set). The callback mode was taken out after this call (5% more CPU).
#   KIT (default .gpuhost/s14b, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000}
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
dsn=postgres://postgres@127.0.0.1:5432/postgres
run() { # label gpu-mode buffer-size VAR=value...
  local label=$1 gpu=$2 buf=$3; shift 3
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 - "$label" "$K/pgparquet-c" export --dsn $dsn --table lineorder \
    --output-dir /dev/shm/s14b --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress --buffer-size "$buf" <<'PY'
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
  rm -rf /dev/shm/s14b
}
{
  for round in 1 2; do
    run "blocking" on 4MiB
    run "callback" on 4MiB PGPARQUET_CUDA_SYNC=callback
  done
  run "callback, callstats" on 4MiB PGPARQUET_CUDA_SYNC=callback PGPARQUET_CUDA_CALLSTATS=1
  run "blocking, 8MiB" on 8MiB
  run "callback, 8MiB" on 8MiB PGPARQUET_CUDA_SYNC=callback
  run "blocking, callstats" on 4MiB PGPARQUET_CUDA_CALLSTATS=1
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
