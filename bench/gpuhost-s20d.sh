#!/bin/bash
# On the GPU host, from the repository root (session 20): does asynchronous preemption cost the
# CPU the profiles put in runtime.asyncPreempt (15% of the CPU path's samples on lineorder in
# s20b, 15-17% in earlier sessions)? Exports with GODEBUG=gctrace=1 and with
# gctrace=1,asyncpreemptoff=1, both paths (the GPU writer now compresses in 256 KiB frames):
# lineorder 40M and wide 10M, P=16, zstd, two interleaved rounds with the source limit; GC
# counts from gctrace; CPU profiles of round 1's GPU exports.
#   KIT (default .gpuhost/s20d, carried): base files (nvcomp.tar.xz too) and pgparquet-c.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s20d}; O=${OUT:-/tmp/s20d-out}
source bench/gpuhost-prelude.sh
gpuhost_start s20d lineorder wide
PROFILE_PATHS="cpu gpu" ab_exports GODEBUG "gctrace=1 gctrace=1,asyncpreemptoff=1" cpu gpu
echo "total: $SECONDS s"
