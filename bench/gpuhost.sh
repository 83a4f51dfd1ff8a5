#!/bin/bash
# Runs the benchmark on the GPU host from what bench/gpuhost-kit.sh prepared (no Go there).
#   bench/gpuhost.sh unpack          unzip the carried wheels (bench/work/wheels/g*) into
#                                    /root/bench-site; run once per carried group
#   bench/gpuhost.sh start           start PostgreSQL 15 from bench/work/gpuhost (data in /dev/shm)
#   bench/gpuhost.sh run [ARGS...]   bench/run.py against it; ARGS as for run.py, e.g.
#                                    --gb 6 --parallel 1,8,16
# Results go to bench/results/ (copy them into $OUT to bring them back).
set -euo pipefail
cd "$(dirname "$0")/.."
SITE=${BENCH_SITE:-/root/bench-site}
PGBIN=/opt/pgb/usr/lib/postgresql/15/bin
case "${1:-}" in
unpack)
  mkdir -p "$SITE"
  for w in bench/work/wheels/g*/*.whl; do
    [ -e "$w" ] || continue
    python3 -m zipfile -e "$w" "$SITE" && echo "unpacked $(basename "$w")"
  done ;;
start)
  bash bench/work/gpuhost/start-pg.sh bench/work/gpuhost ;;
run)
  shift
  export LD_LIBRARY_PATH=/opt/pgb/syslib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH} PGPASSWORD=unused
  # The GPU decoder's library, when built there with `make cuda`, sits in bin/.
  exec python3 bench/run.py --dsn postgres://postgres@127.0.0.1:5432/postgres --psql $PGBIN/psql \
    --host "${BENCH_HOST:-gpuhost}" "$@" ;;
*)
  sed -n 2,9p "$0"; exit 2 ;;
esac
