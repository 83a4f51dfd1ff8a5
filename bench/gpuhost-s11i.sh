#!/bin/bash
# On the GPU host right after gpuhost-s11h.sh (same warm machine: PostgreSQL, tables, DuckDB):
# issue 12's measurement of the session's last commit (bench/gpuhost-r8.sh: source limit, GPU
# writer, CPU path and DuckDB over 2 rounds per table, CPU profiles of round 1), then a check of
# values: each table exported by the GPU writer and by the CPU path, read back by DuckDB, the
# same rows (EXCEPT ALL both ways, counts). Logs and profiles tarred into one file.
#   KIT (default .gpuhost/s11i, carried): pgparquet-c.xz, nvcomp.tar.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11i}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
exec > >(tee -a "$R/$N.log") 2>&1
KIT=$K OUT=$R REUSE=1 MODES="${MODES:-pages cpu duckdb}" ROUNDS=${ROUNDS:-2} PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
cat "$R/r8.log"
lib=$(realpath "$K/libc.so"); nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
dsn=postgres://postgres@127.0.0.1:5432/postgres
for t in lineorder wide; do
  rm -rf /dev/shm/v; mkdir -p /dev/shm/v
  PGPARQUET_NVCOMP_LIB=$nv "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/v/gpu --parallel 16 --gpu on \
    --gpu-lib "$lib" --no-progress > /dev/null 2> "$R/$t-verify-gpu.err" || { echo "$t: GPU writer export failed"; tail -5 "$R/$t-verify-gpu.err"; }
  "$K/pgparquet-c" export --dsn $dsn --table $t --output-dir /dev/shm/v/cpu --parallel 16 --gpu off --no-progress > /dev/null 2>&1 ||
    echo "$t: CPU export failed"
  python3 - "$t" <<'PY'
import sys, time, duckdb
t = sys.argv[1]; c = duckdb.connect(); c.execute("SET threads=16")
g, p = "read_parquet('/dev/shm/v/gpu/*.parquet')", "read_parquet('/dev/shm/v/cpu/*.parquet')"
t0 = time.time()
n1, n2 = c.execute(f"SELECT (SELECT count(*) FROM {g}), (SELECT count(*) FROM {p})").fetchone()
a = c.execute(f"SELECT count(*) FROM (SELECT * FROM {g} EXCEPT ALL SELECT * FROM {p})").fetchone()[0]
b = c.execute(f"SELECT count(*) FROM (SELECT * FROM {p} EXCEPT ALL SELECT * FROM {g})").fetchone()[0]
print(f"{t} values: GPU writer {n1} rows, CPU path {n2} rows; rows only in the GPU writer's files {a}, only in the CPU path's {b} "
      f"({'same rows' if n1 == n2 and a == 0 and b == 0 else 'DIFFERENT'}; DuckDB {duckdb.__version__}, {time.time() - t0:.1f} s)")
PY
done
rm -rf /dev/shm/v
tar -cf "$O/$N.tar" -C "$R" .
