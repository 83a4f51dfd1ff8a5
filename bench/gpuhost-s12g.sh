#!/bin/bash
# On the GPU host, from the repository root (session 12): the CPU path through the GPU
# writer's file path on its CPU twins (pqfile.CPUPlain: the default without a GPU since this
# session) against arrow-go's FileWriter ($PGPARQUET_PAGE_WRITER=off, the CPU path before),
# with the GPU writer beside them: wide 10M and lineorder 40M, P=16, interleaved over 2 rounds
# with the source limit (bench/gpuhost-r8.sh), CPU profiles of round 1 (bench/cpusplit).
#   KIT (default .gpuhost/s12g, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
KIT=${KIT:-.gpuhost/s12g} TABLES="wide lineorder" MODES="pages cpu cpuarrow" exec bash bench/gpuhost-s12e.sh
