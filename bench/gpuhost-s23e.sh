#!/bin/bash
# On the GPU host, from the repository root (session 23, after the string pages' pinned chunks):
# the device's GPU tests on fresh seeds, then the produce halves of TestGPUWriterRandomTables
# and TestGPUWriterStatisticsAreTrue, left in $OUT/random.tar.xz and $OUT/stats.tar.xz to check
# here as bench/gpuhost-s17b.sh says.
#   KIT (default .gpuhost/s23e, carried): pg15.tar.xz, start-pg.sh, nvcomp.tar.xz, export.test.xz
#   and device.test.xz (DEVICE_TESTS=0 skips the device's tests: s23i, the halves at HEAD).
set -uo pipefail
K=${KIT:-.gpuhost/s23e}; O=${OUT:-/tmp/s23e-out}
source bench/gpuhost-prelude.sh
gpuhost_start s23e
[ "${DEVICE_TESTS:-1}" = 1 ] && device_gpu_tests
gpu_writer_halves
echo "total: $SECONDS s"
