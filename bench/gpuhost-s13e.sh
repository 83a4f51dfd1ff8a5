#!/bin/bash
# On the GPU host, from the repository root (session 13): the pipeline alone (export.test's
# TestPipelineAlone, P=16: COPY buffers received beforehand into pinned memory, then the lanes
# decode, encode, compress and write) on lineorder 40M and wide 10M, as committed at the end
# of the session (arrays and numeric text decoded on the GPU, lists paged by pqfile).
#   KIT (default .gpuhost/s13e, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s13e}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}
KIT=$K OUT=$O TABLES="lineorder wide" MODES="" ROUNDS=0 PIPELINE=pages bash bench/gpuhost-r8.sh > /dev/null 2>&1
grep -E "source limit|pipeline alone|total" "$O/r8.log" | cut -c1-300
