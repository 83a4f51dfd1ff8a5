// Stream priorities of the CUDA library. The lanes wait on their own streams (decoding, the
// page encoder's calls) for kernels of well under a millisecond, while nvCOMP's zstd kernels
// run for tens of milliseconds (each frame is compressed by one thread block at about 9 MB/s:
// 14 ms for a 128 KiB frame alone on the H200, bench/results/
// gpuhost-h200-2026-11-30-s15a-nvcompbench.log). So the lanes' streams get the device's
// greatest priority and compression's its least: when blocks finish, the block scheduler
// starts a waiting lane's blocks before further compression blocks (it does not stop blocks
// already running). Measured in the pipeline alone (P=16, one call, s15d): lineorder 4.97
// against 4.84 GB/s, wide 3.76 against 2.65 (that one run of wide used 50% more CPU too), and
// with sealed row groups the lanes' decode calls still took 2.4 times as long as without.
// $PGPARQUET_CUDA_PRIORITY=off gives every stream the default priority, for measurements.
#ifndef PGPQ_STREAMS_H
#define PGPQ_STREAMS_H

#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>

enum { PGPQ_STREAM_LANE = 1, PGPQ_STREAM_BULK = 0 };

// pgpq_stream_create makes a non-blocking stream of the priority its use asks for (lane:
// PGPQ_STREAM_LANE, compression: PGPQ_STREAM_BULK). Safe from any thread.
static inline cudaError_t pgpq_stream_create(cudaStream_t* s, int use) {
  const char* v = getenv("PGPARQUET_CUDA_PRIORITY");
  int least = 0, greatest = 0;
  if ((v != NULL && strcmp(v, "off") == 0) || cudaDeviceGetStreamPriorityRange(&least, &greatest) != cudaSuccess) {
    return cudaStreamCreateWithFlags(s, cudaStreamNonBlocking);
  }
  return cudaStreamCreateWithPriority(s, cudaStreamNonBlocking, use == PGPQ_STREAM_LANE ? greatest : least);
}

#endif
