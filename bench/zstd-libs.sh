#!/bin/bash
# The two zstd encoders pgparquet has used on the CPU, on the same uncompressed Parquet file
# cut into 1 MiB pages, one thread each:
#   bench/zstd-libs.sh FILE     (e.g. a --compression none export of lineorder)
# Prints bytes in and out and MB/s, the best of three passes: the Go encoder (klauspost/compress,
# the CPU path's until session 20 and still that of builds without cgo) at its settings there,
# and libzstd (DataDog/zstd, the CPU path's with cgo) at levels 1 to 3 (3: "zstd" without one).
set -euo pipefail
f=${1:?usage: bench/zstd-libs.sh FILE}
go run ./bench/zstdlibs "$f"
