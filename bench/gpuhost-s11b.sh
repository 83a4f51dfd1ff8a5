#!/bin/bash
# On the GPU host, from the repository root (session 11): issue 12's exports with lanes that
# hand pages to compression without waiting, and arrow-go's pages compressed with the GPU
# writer's (pqfile's held pages): lineorder 40M and wide 10M, P=16, source limit, GPU writer and
# CPU path over 2 rounds, CPU profiles and traces of round 1 (bench/gpuhost-r8.sh), all tarred.
#   KIT (default .gpuhost/s11b, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11b}; N=$(basename "$K"); O=${OUT:-/tmp/$N-out}; R=/tmp/$N-run
mkdir -p "$O" "$R"
KIT=$K OUT=$R MODES="${MODES:-pages cpu}" ROUNDS=${ROUNDS:-2} PIPELINE="" TRACE=1 bash bench/gpuhost-r8.sh > /dev/null 2>&1
cat "$R/r8.log"
tar -cf "$O/$N.tar" -C "$R" .
