#!/bin/bash
# On the GPU host, from the repository root (session 24): where a CLI export's wall time goes
# beyond the sidecar's (s23g: wide's CLI 0.35-0.45 s slower inside its total_s and 0.26-0.39 s
# outside it). Wide 10M and lineorder 40M, P=16, zstd, ROUNDS rounds (default 3; order
# reversed in every other), each after the source limit: bench/gpuhost-timeline.py's CLI
# exports (launch, GPU start, first GPU page, finish, result on stdout, exit) with LABELS
# (default "def eager": CUDA's default lazy module loading, and CUDA_MODULE_LOADING=EAGER);
# then the sidecar at the same binary, two requests per table after its warm-up request.
#   KIT (default .gpuhost/s24a, carried): base files and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s24a}; O=${OUT:-/tmp/s24a-out}; N=${NAME:-s24a}; T=${TABLES:-wide lineorder}
B=${BIN:-pgparquet-c}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
source bench/gpuhost-source-limit.sh
export PGPARQUET_NVCOMP_LIB=$nv
labels=${LABELS:-def eager}
only="export started,decoding on the GPU,GPU compression on: zstd pages are compressed by nvCOMP,Parquet pages of fixed-width columns are encoded on the GPU,export finished"
run() { # TABLE ROUND LABEL
  local e=()
  case $3 in eager) e=(CUDA_MODULE_LOADING=EAGER) ;; *=*) e=("$3") ;; esac
  rm -rf /dev/shm/s24-out
  echo "== $1 r$2 $3"
  env "${e[@]}" python3 bench/gpuhost-timeline.py "$K/$B" "$1" "$lib" /dev/shm/s24-out "$only"
}
for r in $(seq 1 "${ROUNDS:-3}"); do
  for t in $T; do
    source_limit "$t" 16
    order=$labels; [ $((r % 2)) = 0 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
rm -rf /dev/shm/s24-out
[ "${SIDECAR:-1}" = 1 ] || { echo "total: $SECONDS s"; exit 0; }
source bench/gpuhost-sidecar.sh
sidecar_start "$K/$B" $T || exit 1
for t in $T; do for r in 1 2; do source_limit "$t" 16; sidecar_request "$t" "$t sidecar $r"; done; done
sidecar_stop
grep -E '"(export started|export finished)"' "$O/sidecar.log" | cut -c1-300
echo "total: $SECONDS s"
