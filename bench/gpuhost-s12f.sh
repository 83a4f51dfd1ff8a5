#!/bin/bash
# On the GPU host, from the repository root (session 12, last call): the exports as committed,
# after s12e also numeric text written in one pass (gpuparse/numeric.go) and the text[] leaf's
# dictionary indices with marked statistics (pqfile.writeDictLeaf): wide 10M and lineorder 40M,
# P=16, the GPU writer and the CPU path interleaved over 2 rounds with the source limit
# (bench/gpuhost-r8.sh), CPU profiles of round 1 (bench/cpusplit).
#   KIT (default .gpuhost/s12f, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh, wide.sql,
#   nvcomp.tar.xz, pgparquet-c.xz.
KIT=${KIT:-.gpuhost/s12f} TABLES="wide lineorder" MODES="pages cpu" exec bash bench/gpuhost-s12e.sh
