#!/bin/bash
# On the GPU host, from the repository root (session 17): the pipeline alone (TestPipelineAlone,
# lineorder 40M, P=16) now that a GPU writer export runs on 4 Ps (export/procs.go), against
# GOMAXPROCS=16 from the environment (left alone), two interleaved rounds: does 4 Ps cap the
# pipeline, whose CPU is about 0.6 CPU-s per GB at 5 GB/s?
#   KIT (default .gpuhost/s17h, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s17h}; O=${OUT:-/tmp/s17h-out}
source bench/gpuhost-prelude.sh
gpuhost_start s17h lineorder
for round in 1 2; do
  for procs in ${PROCS:-default 16 8}; do
    pipeline_alone "r$round GOMAXPROCS $procs" "$lib" $([ $procs != default ] && echo GOMAXPROCS=$procs)
  done
done
echo "total: $SECONDS s"
