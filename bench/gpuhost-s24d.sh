#!/bin/bash
# On the GPU host, from the repository root (session 24): the receive buffers of the GPU's
# start mapped outside Go's heap and unmapped when pinned ones replace them (e-map, as HEAD:
# device.earlyBuffers) against Go memory, as before (e-go: PGPARQUET_EARLY_BUFFERS=go, a
# measure build's switch). CLI exports of wide 10M and lineorder 40M on the GPU writer, P=16,
# zstd, ROUNDS rounds (default 3, the order reversed in every other), each after the source
# limit; each line from bench/gpuhost-split-run.py. Then, for each label, wide's peak RSS by
# kind and its Go heap at each collection (as bench/gpuhost-s24c.sh).
# LABELS (default "e-go e-map"; e-late: mapped, unmapped only when the decoder closes);
# PROFILE=1: a CPU profile of each table and label ($O/NAME-TABLE-LABEL.pprof, for
# bench/cpusplit); BREAKDOWN=0 skips the RSS breakdown.
# s24e: NAME=s24e ROUNDS=4 LABELS="e-go e-map e-late" PROFILE=1 BREAKDOWN=0.
#   KIT (default .gpuhost/s24d, carried): base files and pgparquet-m.xz (-tags measure).
set -uo pipefail
K=${KIT:-.gpuhost/s24d}; O=${OUT:-/tmp/s24d-out}; N=${NAME:-s24d}; T=${TABLES:-wide lineorder}
source bench/gpuhost-prelude.sh
gpuhost_start "$N" $T
source bench/gpuhost-source-limit.sh
dsn=postgres://postgres@127.0.0.1:5432/postgres
envs_of() { case $1 in e-go) echo PGPARQUET_EARLY_BUFFERS=go ;; e-late) echo PGPARQUET_EARLY_BUFFERS=late ;; *) echo PGPARQUET_EARLY_BUFFERS=mapped ;; esac; }
labels=${LABELS:-e-go e-map}
run() { # TABLE ROUND LABEL [ARGS...]
  local t=$1 r=$2 l=$3
  shift 3
  rm -rf /dev/shm/s24-out
  env PGPARQUET_NVCOMP_LIB="$nv" $(envs_of "$l") python3 bench/gpuhost-split-run.py "$t r$r $l" "$K/pgparquet-m" export \
    --dsn $dsn --table "$t" --output-dir /dev/shm/s24-out --overwrite --parallel 16 --gpu-lib "$lib" --no-progress --log-format json "$@"
}
for r in $(seq 1 "${ROUNDS:-3}"); do
  for t in $T; do
    source_limit "$t" 16
    order=$labels; [ $((r % 2)) = 0 ] && order=$(echo $labels | tr ' ' '\n' | tac | tr '\n' ' ')
    for l in $order; do run "$t" "$r" "$l"; done
  done
done
for l in $labels; do
  [ "${PROFILE:-0}" = 1 ] && for t in $T; do run "$t" prof "$l" --cpu-profile "$O/$N-$t-$l.pprof"; done
  [ "${BREAKDOWN:-1}" = 1 ] || continue
  echo "== wide, $l: RSS by kind at its peak"
  rm -rf /dev/shm/s24-out
  env PGPARQUET_NVCOMP_LIB="$nv" $(envs_of "$l") PGPARQUET_CUDA_CALLSTATS=1 GODEBUG=gctrace=1 RSS_STDERR=/dev/shm/s24-rss.err \
    python3 bench/rss-breakdown.py "$K/pgparquet-m" export --dsn $dsn --table wide --output-dir /dev/shm/s24-out --overwrite \
    --parallel 16 --gpu-lib "$lib" --no-progress > /dev/shm/s24-rss.out
  head -5 /dev/shm/s24-rss.out
  grep "^pinned memory" /dev/shm/s24-rss.err
  grep "^gc " /dev/shm/s24-rss.err | awk '{split($11, h, "->"); if (h[1]+0 > m) m = h[1]+0; if ($13+0 > g) g = $13+0; n++}
    END {printf "Go heap: %d collections, largest heap at a collection'"'"'s start %d MB, largest goal %d MB\n", n, m, g}'
done
rm -rf /dev/shm/s24-out
echo "total: $SECONDS s"
