#!/bin/bash
# On the GPU host, from the repository root (session 22): what a DBA gets from the sidecar
# against the CLI, on the GPU writer. One sidecar (GPU decoder, page encoder, nvCOMP zstd; P=16
# per request) runs through the whole call, warmed by one small request; then ROUNDS rounds
# (default 3) of, per table (lineorder 40M, wide 10M): the source limit, one CLI export
# (bench/gpuhost-split-run.py) and one request (bench/gpuhost-sidecar.sh: as analyst, through
# deploy/roles.sql's pgparquet role). The order CLI/sidecar alternates by round.
#   KIT (default .gpuhost/s22c, carried): base files and pgparquet.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s22c}; O=${OUT:-/tmp/s22c-out}
source bench/gpuhost-prelude.sh
gpuhost_start s22c lineorder wide
source bench/gpuhost-source-limit.sh
BIN=$K/pgparquet
DSN=postgres://postgres@127.0.0.1:5432/postgres
source bench/gpuhost-sidecar.sh
sidecar_start "$BIN" wide lineorder || exit 1
cli() { # TABLE LABEL
  rm -rf /dev/shm/s22-out
  env PGPARQUET_NVCOMP_LIB="$nv" python3 bench/gpuhost-split-run.py "$2" "$BIN" export \
    --dsn "$DSN" --table "$1" --output-dir /dev/shm/s22-out --overwrite --parallel 16 \
    --gpu-lib "$lib" --no-progress --log-format json
}
for r in $(seq 1 "${ROUNDS:-3}"); do
  for t in lineorder wide; do
    source_limit "$t" 16
    if [ $((r % 2)) = 1 ]; then cli "$t" "$t r$r cli"; sidecar_request "$t" "$t r$r sidecar"
    else sidecar_request "$t" "$t r$r sidecar"; cli "$t" "$t r$r cli"; fi
  done
done
sidecar_stop
nproc; lscpu | grep -E "^(Model name)"
echo "total: $SECONDS s"
