#!/bin/bash
# On the GPU host, from the repository root (session 13): where the GPU writer's CPU goes by
# thread. Go's CPU profile sampled only 63% of lineorder's CPU-s on the GPU path (81% on wide;
# 99% on the CPU path, s13c): the rest runs in threads Go does not profile. This samples every
# thread of the export (/proc/PID/task/*/stat, every 0.1 s) and sums user and system CPU by
# thread name: Go's threads carry the binary's name, the CUDA driver's and nvCOMP's their own.
# Lineorder (ROWS, default 20M), P=16, the GPU writer, twice.
#   KIT (default .gpuhost/s13g, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s13g}; O=${OUT:-/tmp/s13g-out}; ROWS=${ROWS:-20000000}
mkdir -p "$O"
pkill -x postgres; sleep 1
xz -dkf "$K/pgparquet-c.xz" && chmod +x "$K/pgparquet-c"
source bench/gpuhost-cuda-lib.sh
cuda_lib || { echo "no CUDA library"; exit 1; }
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib
export PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" > /dev/null || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder > /dev/null || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
for round in 1 2; do
  PGPARQUET_NVCOMP_LIB=$nv python3 - "$K/pgparquet-c" "$dsn" "$lib" <<'PY'
import collections, os, resource, subprocess, sys, time
binary, dsn, lib = sys.argv[1:4]
tick = os.sysconf("SC_CLK_TCK")
p = subprocess.Popen([binary, "export", "--dsn", dsn, "--table", "lineorder", "--output-dir", "/dev/shm/s13g",
                      "--overwrite", "--parallel", "16", "--gpu", "on", "--gpu-lib", lib, "--no-progress"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seen = {}  # tid -> (name, utime, stime)
t0 = time.time()
while p.poll() is None:
    try:
        for tid in os.listdir(f"/proc/{p.pid}/task"):
            try:
                with open(f"/proc/{p.pid}/task/{tid}/stat") as f:
                    s = f.read()
                name = s[s.index("(") + 1:s.rindex(")")]
                fields = s[s.rindex(")") + 2:].split()
                seen[tid] = (name, int(fields[11]), int(fields[12]))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
    except FileNotFoundError:
        break
    time.sleep(0.1)
wall = time.time() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
by = collections.defaultdict(lambda: [0, 0, 0])
for name, u, s in seen.values():
    by[name][0] += u; by[name][1] += s; by[name][2] += 1
print(f"export: rc {p.returncode}, {wall:.2f} s, {ru.ru_utime + ru.ru_stime:.1f} CPU-s (rusage), "
      f"{sum(u + s for _, u, s in seen.values()) / tick:.1f} CPU-s seen in threads")
for name, (u, s, n) in sorted(by.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
    print(f"  {name:20s} {n:3d} threads  user {u / tick:6.2f} s  system {s / tick:6.2f} s")
PY
  rm -rf /dev/shm/s13g
done
echo "total: $SECONDS s"
