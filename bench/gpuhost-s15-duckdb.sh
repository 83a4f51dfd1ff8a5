#!/bin/bash
# On the GPU host (session 15), a call of its own right before bench/gpuhost-s15f.sh on the
# same warm machine: installs DuckDB 1.5.5 and its postgres extension from cp312 wheels (they
# do not fit in one call beside the exporter's kit), for bench/gpuhost-r8.sh's duckdb mode.
#   KIT (default .gpuhost/s15duck, carried): duckdb-1.5.5-cp312-*.whl,
#   duckdb_extension_postgres_scanner-1.5.5-*.whl.
set -uo pipefail
K=${KIT:-.gpuhost/s15duck}
python3 -m pip install -q --no-index --break-system-packages "$K"/*.whl 2>&1 | tail -3
python3 -c 'import duckdb, duckdb_extension_postgres_scanner; print("duckdb", duckdb.__version__)'
# A kit may also bring what the next call cannot carry beside its own (session 21: export.test.xz).
for f in "$K"/*.xz; do [ -e "$f" ] && mkdir -p /root/s21-stash && cp "$f" /root/s21-stash/ && echo "stashed $f"; done
