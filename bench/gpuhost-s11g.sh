#!/bin/bash
# On the GPU host, from the repository root (session 11): where the GPU's time goes in the
# pipeline alone (TestPipelineAlone, lineorder 40M, P=16) once lanes no longer wait for
# compression: the run under Nsight Systems (when the host has nsys), its kernel, memory-copy
# and CUDA API summaries as text.
#   KIT (default .gpuhost/s11f, carried): pg15.tar.xz, start-pg.sh, make-lineorder.sh,
#   nvcomp.tar.xz, export.test.xz.
set -uo pipefail
K=${KIT:-.gpuhost/s11f}; O=${OUT:-/tmp/s11g-out}; ROWS=${ROWS:-40000000}; P=16
mkdir -p "$O"
exec > >(tee -a "$O/s11g.log") 2>&1
nvidia-smi -L; date
BINARIES="export.test"
source bench/gpuhost-r8-setup.sh
echo "setup done: $SECONDS s"
NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
echo "nsys: ${NSYS:-none}"; [ -n "$NSYS" ] && "$NSYS" --version
run() {
  (cd export && PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_CUDA_LIB=$lib PGPARQUET_PIPELINE_DSN=$dsn PGPARQUET_PIPELINE_TABLE=lineorder \
    PGPARQUET_PIPELINE_PARALLEL=$P PGPARQUET_PIPELINE_OUT=/dev/shm/s11g-pipe "$@" ../$K/export.test -test.run '^TestPipelineAlone$' -test.v 2>&1 |
    grep -E 'pipeline_test|PASS|FAIL|panic' | head -20)
  rm -rf /dev/shm/s11g-pipe
}
if [ -n "$NSYS" ]; then
  run "$NSYS" profile -o /tmp/s11g-pipe -t cuda --force-overwrite true
  "$NSYS" stats -q -r cuda_gpu_kern_sum,cuda_gpu_mem_time_sum,cuda_api_sum /tmp/s11g-pipe.nsys-rep 2>&1 | cut -c1-220 | head -120
else
  run env
fi
echo "total: $SECONDS s"
