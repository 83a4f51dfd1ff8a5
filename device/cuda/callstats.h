// callstats.h: where the library's CPU goes, per CUDA runtime call and per exported function,
// for measurements ($PGPARQUET_CUDA_CALLSTATS set when the library is loaded; off, each call
// costs one load of a flag). Go's CPU profile does not see all of the time a thread spends
// inside the library (its threads run in short bursts between waits, which the profiler's CPU
// timers undercount), so the library counts it itself: calls, wall time, and the calling
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID around the call: exact, where getrusage's
// RUSAGE_THREAD lags until the thread next sleeps and so charged a wait with the CPU spent
// before it). pgpq_callstats formats the totals.
//
// Included by each .cu file after the CUDA and cub headers: the macros at the end route the
// runtime calls written after them through the counters. One set of counters for the whole
// library (defined in pgcopy.cu, PGPQ_CALLSTATS_DEFINE); updated with atomics, so any thread may
// call.
#ifndef PGPQ_CALLSTATS_H
#define PGPQ_CALLSTATS_H

#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum {
  CS_STREAM_SYNC,
  CS_EVENT_SYNC,
  CS_MEMCPY_ASYNC_H2D,
  CS_MEMCPY_ASYNC_D2H,
  CS_MEMCPY_ASYNC_OTHER,
  CS_MEMCPY_SYNC,
  CS_MEMSET_ASYNC,
  CS_HOST_ALLOC,
  CS_HOST_FREE,
  CS_DEV_ALLOC,
  CS_DEV_FREE,
  CS_STREAM_CREATE_DESTROY,
  CS_EVENT_RECORD,
  CS_NVCOMP,
  // Exported functions, the whole call (the runtime calls above included).
  CS_API_SCAN,
  CS_API_FINISH,
  CS_API_ENC_RUN,
  CS_API_UNIQ,
  CS_API_NV_RUN,
  CS_API_HOST_ALLOC,
  CS_API_HOST_FREE,
  CS_API_OPEN_CLOSE,
  CS_N
};

typedef struct {
  uint64_t calls, wall_ns, cpu_ns, bytes;
} pgpq_cs_counter;

extern int pgpq_cs_on;
extern pgpq_cs_counter pgpq_cs[CS_N];

// pgpq_cs_mark is the clocks at one moment: monotonic wall time and the thread's CPU time.
typedef struct {
  uint64_t wall, cpu;
} pgpq_cs_mark;

static inline uint64_t pgpq_cs_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline pgpq_cs_mark pgpq_cs_now(void) {
  pgpq_cs_mark m;
  m.wall = pgpq_cs_ns(CLOCK_MONOTONIC);
  m.cpu = pgpq_cs_ns(CLOCK_THREAD_CPUTIME_ID);
  return m;
}

static inline void pgpq_cs_add_bytes(int k, pgpq_cs_mark a, uint64_t bytes) {
  pgpq_cs_mark b = pgpq_cs_now();
  __atomic_fetch_add(&pgpq_cs[k].bytes, bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pgpq_cs[k].calls, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pgpq_cs[k].wall_ns, b.wall - a.wall, __ATOMIC_RELAXED);
  __atomic_fetch_add(&pgpq_cs[k].cpu_ns, b.cpu - a.cpu, __ATOMIC_RELAXED);
}

static inline void pgpq_cs_add(int k, pgpq_cs_mark a) { pgpq_cs_add_bytes(k, a, 0); }

// PGPQ_TIMED_BYTES evaluates the expression expr (a CUDA runtime call) and counts it, and the
// bytes it moves or allocates, under k; PGPQ_TIMED counts no bytes.
#define PGPQ_TIMED_BYTES(k, bytes, expr)                   \
  (__extension__({                                         \
    __typeof__(expr) pgpq_cs_r;                            \
    if (pgpq_cs_on) {                                      \
      pgpq_cs_mark pgpq_cs_a = pgpq_cs_now();              \
      pgpq_cs_r = (expr);                                  \
      pgpq_cs_add_bytes((k), pgpq_cs_a, (uint64_t)(bytes)); \
    } else {                                               \
      pgpq_cs_r = (expr);                                  \
    }                                                      \
    pgpq_cs_r;                                             \
  }))
#define PGPQ_TIMED(k, expr) PGPQ_TIMED_BYTES(k, 0, expr)

#ifdef __cplusplus
// pgpq_cs_scope counts one exported function's whole call: declare one at its top.
struct pgpq_cs_scope {
  int k;
  pgpq_cs_mark a;
  explicit pgpq_cs_scope(int kind) : k(kind) {
    if (pgpq_cs_on) a = pgpq_cs_now();
  }
  ~pgpq_cs_scope() {
    if (pgpq_cs_on) pgpq_cs_add(k, a);
  }
};
#define PGPQ_API_SCOPE(k) pgpq_cs_scope pgpq_cs_scope_guard(k)
#endif

static inline int pgpq_cs_copy_kind(cudaMemcpyKind kind) {
  return kind == cudaMemcpyHostToDevice ? CS_MEMCPY_ASYNC_H2D
         : kind == cudaMemcpyDeviceToHost ? CS_MEMCPY_ASYNC_D2H
                                          : CS_MEMCPY_ASYNC_OTHER;
}

// The runtime calls below are counted wherever they are written after this header.
#define cudaStreamSynchronize(s) PGPQ_TIMED(CS_STREAM_SYNC, (cudaStreamSynchronize)(s))
#define cudaEventSynchronize(e) PGPQ_TIMED(CS_EVENT_SYNC, (cudaEventSynchronize)(e))
#define cudaMemcpyAsync(d, s, n, k, st) PGPQ_TIMED_BYTES(pgpq_cs_copy_kind(k), n, (cudaMemcpyAsync)(d, s, n, k, st))
#define cudaMemcpy(d, s, n, k) PGPQ_TIMED(CS_MEMCPY_SYNC, (cudaMemcpy)(d, s, n, k))
#define cudaMemsetAsync(p, v, n, st) PGPQ_TIMED(CS_MEMSET_ASYNC, (cudaMemsetAsync)(p, v, n, st))
#define cudaMallocHost(p, n) PGPQ_TIMED_BYTES(CS_HOST_ALLOC, n, (cudaMallocHost)(p, n))
#define cudaFreeHost(p) PGPQ_TIMED(CS_HOST_FREE, (cudaFreeHost)(p))
#define cudaMalloc(p, n) PGPQ_TIMED_BYTES(CS_DEV_ALLOC, n, (cudaMalloc)(p, n))
#define cudaFree(p) PGPQ_TIMED(CS_DEV_FREE, (cudaFree)(p))
#define cudaStreamCreateWithFlags(s, f) PGPQ_TIMED(CS_STREAM_CREATE_DESTROY, (cudaStreamCreateWithFlags)(s, f))
#define cudaStreamDestroy(s) PGPQ_TIMED(CS_STREAM_CREATE_DESTROY, (cudaStreamDestroy)(s))
#define cudaEventRecord(e, s) PGPQ_TIMED(CS_EVENT_RECORD, (cudaEventRecord)(e, s))

#ifdef PGPQ_CALLSTATS_DEFINE
#include <stdlib.h>
int pgpq_cs_on = 0;
pgpq_cs_counter pgpq_cs[CS_N];

__attribute__((constructor)) static void pgpq_cs_init(void) {
  const char* v = getenv("PGPARQUET_CUDA_CALLSTATS");
  pgpq_cs_on = v != NULL && v[0] != 0 && v[0] != '0';
}

static const char* const pgpq_cs_names[CS_N] = {
    "cudaStreamSynchronize", "cudaEventSynchronize", "cudaMemcpyAsync H2D", "cudaMemcpyAsync D2H",
    "cudaMemcpyAsync other", "cudaMemcpy", "cudaMemsetAsync", "cudaMallocHost", "cudaFreeHost", "cudaMalloc",
    "cudaFree", "stream create/destroy", "cudaEventRecord", "nvCOMP compress", "pgpq_scan (whole)",
    "pgpq_finish (whole)", "pgpq_enc_run (whole)", "pgpq_uniq_first_run (whole)", "pgpq_nv_run_packed (whole)",
    "pgpq_host_alloc (whole)", "pgpq_host_free (whole)", "open/close (whole)",
};

extern "C" {
// pgpq_callstats writes the counters as text lines into buf (len bytes, NUL-terminated) and
// returns the bytes written; 0 when counting is off.
int pgpq_callstats(char* buf, int len) {
  if (!pgpq_cs_on || len <= 0) return 0;
  int at = snprintf(buf, len, "%-30s %9s %9s %9s %9s\n", "CUDA call", "calls", "wall s", "CPU s", "MB");
  for (int k = 0; k < CS_N && at < len; k++) {
    pgpq_cs_counter c;
    c.calls = __atomic_load_n(&pgpq_cs[k].calls, __ATOMIC_RELAXED);
    if (c.calls == 0) continue;
    c.wall_ns = __atomic_load_n(&pgpq_cs[k].wall_ns, __ATOMIC_RELAXED);
    c.cpu_ns = __atomic_load_n(&pgpq_cs[k].cpu_ns, __ATOMIC_RELAXED);
    c.bytes = __atomic_load_n(&pgpq_cs[k].bytes, __ATOMIC_RELAXED);
    at += snprintf(buf + at, len - at, "%-30s %9llu %9.3f %9.3f %9.1f\n", pgpq_cs_names[k], (unsigned long long)c.calls,
                   c.wall_ns / 1e9, c.cpu_ns / 1e9, c.bytes / 1e6);
  }
  return at < len ? at : len - 1;
}
}
#endif

#endif
