#!/bin/bash
# On the GPU host, from the repository root (session 14): the pipeline alone (export.test's
# TestPipelineAlone, P=16: COPY buffers received beforehand into pinned memory, then the lanes
# decode, encode, compress and write) on lineorder 40M and wide 10M, with the page encoder's
# and the grouping's work fused into the decoder's finishing call and the decoded buffers in
# one arena per chunk; Go execution traces (go run ./bench/traceregions reads them).
#   KIT (default .gpuhost/s14g, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s14g}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}
KIT=$K OUT=$O TABLES="lineorder wide" MODES="" ROUNDS=0 PIPELINE=pages TRACE=1 bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -E "source limit|pipeline alone|total" "$O/r8.log" | cut -c1-300
ls -la "$O"
