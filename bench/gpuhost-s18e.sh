#!/bin/bash
# On the GPU host, from the repository root (session 18, the closing call), right after
# bench/gpuhost-s15-duckdb.sh installed DuckDB on the same warm machine: bench/gpuhost-r8.sh
# (lineorder 40M and wide 10M, P=16, zstd, two rounds of source limit, GPU writer, CPU path and
# DuckDB 1.5.5, CPU profiles of round 1) with this tree's binary, then the source limit over
# TCP to 127.0.0.1, the connection the exporter and DuckDB use (r8's psql uses the Unix socket).
#   KIT (default .gpuhost/s18b, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s18b}; O=${OUT:-/tmp/s18e-out}
mkdir -p "$O"
KIT=$K OUT=$O MODES="pages cpu duckdb" ROUNDS=2 PIPELINE="" bash bench/gpuhost-r8.sh > /dev/null 2>&1
exec > >(tee -a "$O/s18e.log") 2>&1
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
source bench/gpuhost-source-limit.sh
for t in lineorder wide; do
  for round in 1 2; do
    echo -n "over the Unix socket: "; source_limit $t 16
    echo -n "over TCP: "; PGHOST=127.0.0.1 source_limit $t 16
  done
done
echo "total: $SECONDS s"
