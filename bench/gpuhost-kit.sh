#!/bin/bash
# Prepares, on this machine, what the benchmark needs on a GPU host that has no Go, no
# PostgreSQL and no package registry (Ubuntu 24.04, python3 3.12), all in git-ignored folders:
#   bin/                        pgparquet, bench-load, bench-sourcelimit (make build bench-tools)
#   bench/work/gpuhost/         pg15.tar.xz + start-pg.sh (from ../shared/gpuhost)
#   bench/work/cargo/bin/       pg2parquet (make bench-pg2parquet)
#   bench/work/wheels/gN/       cp312 wheels of bench/requirements.txt, in groups under 60 MiB,
#                               because one call carries at most 64 MiB
# Then carry them in several calls as bench/README.md shows, and run bench/gpuhost.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared/gpuhost}
mkdir -p bench/work/gpuhost
[ -f bench/work/gpuhost/pg15.tar.xz ] || bash "$shared/make-pg-bundle.sh" bench/work/gpuhost
cp "$shared/start-pg.sh" bench/work/gpuhost/
all=bench/work/wheels-all
mkdir -p $all
python3 -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform linux_x86_64 \
  -d $all -r bench/requirements.txt
# Split into groups of at most 60 MiB (a wheel larger than that gets a group of its own).
rm -rf bench/work/wheels; g=1; size=0; limit=$((60 << 20))
for w in $(ls -S $all/*.whl); do
  s=$(stat -c %s "$w")
  if [ $size -gt 0 ] && [ $((size + s)) -gt $limit ]; then g=$((g + 1)); size=0; fi
  mkdir -p bench/work/wheels/g$g; cp "$w" bench/work/wheels/g$g/; size=$((size + s))
done
du -sh bin bench/work/gpuhost bench/work/cargo bench/work/wheels/g* 2>/dev/null
