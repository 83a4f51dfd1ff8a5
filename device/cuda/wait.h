// wait.h: how the library's threads wait for a stream. cudaStreamSynchronize with blocking
// sync took about 265 µs of CPU per wait on the H200 host with 16 lanes waiting at once (s14a,
// device/cuda/callstats.h), several times the work the wait covers. With
// $PGPARQUET_CUDA_SYNC=callback a wait instead enqueues a host function behind the stream's
// work (cudaLaunchHostFunc), which CUDA's own thread runs when that work is done and which
// wakes exactly the waiting thread through a semaphore of its own.
//
// A failed stream never runs its host functions, so the waiter also asks the stream every
// PGPQ_WAIT_CHECK_MS whether it failed. Each thread has one waiter (a thread waits for one
// stream at a time); a host function posts only the wait it was enqueued for (a sequence
// number), so a late one left by a failed stream wakes nobody wrongly.
#ifndef PGPQ_WAIT_H
#define PGPQ_WAIT_H

#include <cuda_runtime.h>
#include <errno.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PGPQ_WAIT_CHECK_MS 20

typedef struct {
  sem_t sem;
  int ready;
  uint64_t seq;   // the last wait this thread began
  uint64_t done;  // the highest wait whose host function ran (atomic)
} pgpq_waiter;

typedef struct {
  pgpq_waiter* w;
  uint64_t seq;
} pgpq_wait_token;

extern int pgpq_wait_callbacks;  // 1: waits through host functions (set when the library loads)

static void CUDART_CB pgpq_wait_post(void* p) {
  pgpq_wait_token* t = (pgpq_wait_token*)p;
  pgpq_waiter* w = t->w;
  uint64_t cur = __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
  while (cur < t->seq && !__atomic_compare_exchange_n(&w->done, &cur, t->seq, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
  sem_post(&w->sem);
  free(t);
}

// pgpq_stream_wait waits until the work enqueued on s so far is done, as cudaStreamSynchronize
// does, and returns what it would (the stream's error, if any).
static inline cudaError_t pgpq_stream_wait(cudaStream_t s) {
  if (!pgpq_wait_callbacks) return (cudaStreamSynchronize)(s);
  static __thread pgpq_waiter w;
  if (!w.ready) {
    if (sem_init(&w.sem, 0, 0) != 0) return (cudaStreamSynchronize)(s);
    w.ready = 1;
  }
  pgpq_wait_token* t = (pgpq_wait_token*)malloc(sizeof(pgpq_wait_token));
  if (!t) return (cudaStreamSynchronize)(s);
  t->w = &w;
  t->seq = ++w.seq;
  const uint64_t want = t->seq;
  cudaError_t e = cudaLaunchHostFunc(s, pgpq_wait_post, t);
  if (e != cudaSuccess) {
    free(t);
    return e;
  }
  for (;;) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += PGPQ_WAIT_CHECK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    if (sem_timedwait(&w.sem, &ts) == 0) {
      if (__atomic_load_n(&w.done, __ATOMIC_ACQUIRE) >= want) return cudaSuccess;
      continue;  // a late post of an earlier, failed wait
    }
    if (errno == EINTR) continue;
    // Timed out: a failed stream never runs the host function (the token then stays
    // allocated: a few bytes per CUDA failure).
    cudaError_t q = cudaStreamQuery(s);
    if (q != cudaSuccess && q != cudaErrorNotReady) return q;
  }
}

#ifdef PGPQ_WAIT_DEFINE
int pgpq_wait_callbacks = 0;

__attribute__((constructor)) static void pgpq_wait_init(void) {
  const char* v = getenv("PGPARQUET_CUDA_SYNC");
  pgpq_wait_callbacks = v != NULL && strcmp(v, "callback") == 0;
}
#endif

#endif
