#!/bin/bash
# The CPU path's zstd (klauspost/compress, Go) against libzstd (C, through Python's zstandard)
# on the same uncompressed Parquet file, cut into 1 MiB pages, one thread each:
#   bench/zstd-libs.sh FILE     (e.g. a --compression none export of lineorder)
# Prints bytes in and out and MB/s, the best of three passes, for the Go encoder at the
# settings the CPU path uses and for libzstd at levels 1 to 3. The venv is bench/work/zstd.
set -euo pipefail
f=${1:?usage: bench/zstd-libs.sh FILE}
go run ./bench/zstdlibs "$f"
v=bench/work/zstd
[ -x "$v/bin/python" ] || { python3 -m venv "$v" && "$v/bin/pip" install -q zstandard; }
"$v/bin/python" - "$f" <<'PY'
import sys, time, zstandard
data = open(sys.argv[1], 'rb').read()
for level in (1, 2, 3):
    c = zstandard.ZstdCompressor(level=level, write_checksum=True)
    best = float('inf')
    for _ in range(3):
        t = time.time()
        total = sum(len(c.compress(data[o:o + (1 << 20)])) for o in range(0, len(data), 1 << 20))
        best = min(best, time.time() - t)
    print(f"libzstd {zstandard.ZSTD_VERSION} level {level}: {len(data)} -> {total} bytes, {len(data) / best / 1e6:.0f} MB/s")
PY
