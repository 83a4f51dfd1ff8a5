#!/bin/bash
# On the GPU host, from the repository root (session 14): where the GPU writer's CPU goes inside
# the CUDA library. Go's CPU profile misses 20-37% of the GPU path's CPU (s13c, s13g), most
# likely time inside CUDA driver calls: $PGPARQUET_CUDA_CALLSTATS makes the library count every
# CUDA runtime call's calls, wall time and the calling thread's user and system CPU
# (device/cuda/callstats.h), which the export prints at its end. Lineorder (ROWS, default 40M),
# P=16, one export each: the GPU writer with the counters (and a CPU profile), without them (the
# counters' own cost), with the CUDA sync modes yield and spin ($PGPARQUET_CUDA_SYNC, against
# the default blocking sync), and the CPU path; every run's user and system CPU apart.
#   KIT (default .gpuhost/s14a, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14a}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; ROWS=${ROWS:-40000000}
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
run() { # label gpu-mode VAR=value...
  local label=$1 gpu=$2; shift 2
  env PGPARQUET_NVCOMP_LIB=$nv "$@" python3 - "$label" "$K/pgparquet-c" export --dsn $dsn --table lineorder \
    --output-dir /dev/shm/s14a --overwrite --parallel 16 --gpu "$gpu" --gpu-lib "$lib" --no-progress <<'PY'
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
  rm -rf /dev/shm/s14a
}
{
  run "gpu writer, callstats" on PGPARQUET_CUDA_CALLSTATS=1
  run "gpu writer" on
  run "gpu writer, sync yield, callstats" on PGPARQUET_CUDA_CALLSTATS=1 PGPARQUET_CUDA_SYNC=yield
  run "gpu writer, sync spin" on PGPARQUET_CUDA_SYNC=spin
  run "gpu writer, sync yield" on PGPARQUET_CUDA_SYNC=yield
  run "gpu writer again" on
  run "cpu path" off
} 2>&1 | tee "$O/$N.log"
echo "total: $SECONDS s"
