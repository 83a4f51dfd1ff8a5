#!/bin/bash
# On the GPU host, from the repository root (session 11, first of three calls back to back):
# installs DuckDB and its postgres extension from the kit's cp312 wheels, starts PostgreSQL and
# loads lineorder (ROWS, 40M) and bench/load's wide (WIDE_ROWS, 10M); gpuhost-s11i.sh then
# measures on the same warm machine.
#   KIT (default .gpuhost/s11h, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   wheels/*.whl.
set -uo pipefail
K=${KIT:-.gpuhost/s11h}; O=${OUT:-/tmp/s11h-out}; ROWS=${ROWS:-40000000}; WIDE_ROWS=${WIDE_ROWS:-10000000}
mkdir -p "$O"
exec > >(tee -a "$O/s11h.log") 2>&1
nvidia-smi -L; date
pkill -x postgres; sleep 1
python3 -m pip install --no-deps --no-index -q --break-system-packages "$K"/wheels/*.whl 2>&1 | tail -2
python3 -c 'import duckdb; print("duckdb", duckdb.__version__)'
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" || exit 1
ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
source bench/gpuhost-load-wide.sh
load_wide || exit 1
echo "total: $SECONDS s"
