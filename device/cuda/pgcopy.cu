// pgcopy.cu: the CUDA decoder of PostgreSQL COPY BINARY tuples into Arrow buffers.
//
// Built by `make cuda` into libpgparquet_cuda.so, which the Go side (device/cuda.go) loads
// at run time with dlopen, so one Go binary serves hosts with and without a GPU. The C ABI
// below is the only contract between the two; every pointer the Go side passes is either host
// memory it owns for the duration of the call or pinned memory from pgpq_host_alloc.
//
// Tuple boundaries are exact, never guessed: the receiver records where each CopyData message
// (one per row) starts, and the decode kernel checks that every tuple's field count is right and
// that walking its field lengths ends exactly at the next recorded start.
//
// One chunk takes three launches: decode_kernel (a thread per tuple, a block's tuples staged in
// shared memory with coalesced loads, every fixed-width value and validity bit written in place,
// lengths of var-length values recorded), one exclusive scan of all var-length lengths, and
// copy_kernel (a warp per var-length value, writing Arrow offsets and data). Any mismatch, and any
// value this decoder would have to judge (NaN in a decimal column, an out-of-range timestamp,
// a malformed numeric), sets the job's flag: the Go side then decodes that chunk with the CPU
// decoder, the reference, which returns the same batch or the exact error. So the GPU path
// never produces a result the CPU path would not.
//
// Columns of kinds without a kernel (arrays, composites, decimal256, ...) cost the GPU only
// their field positions, recorded during the walk: the Go side decodes those columns alone
// from them.
#include <cuda_runtime.h>
#include <cub/device/device_scan.cuh>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpq_abi.h"  // pgpq_col

#define PGPQ_ABI 2

// Column kinds: the same numbers as pgarrow.Kind.
enum {
  K_BOOL = 1, K_INT16, K_INT32, K_INT64, K_FLOAT32, K_FLOAT64, K_STRING, K_BINARY, K_UUID,
  K_JSON, K_JSONB, K_DATE, K_TIMESTAMP, K_TIMESTAMPTZ, K_DECIMAL128, K_DECIMAL256, K_NUMERIC_STRING
};

static const int64_t PG_EPOCH_DAYS = 10957;
static const long long PG_EPOCH_MICROS = 946684800000000LL;

// pgpq_out is where one column's device outputs of the current chunk are.
struct pgpq_out {
  uint8_t* vals;    // values; offsets for var-length columns; bitmap words for bool; for a
                    // column decoded on the CPU, each row's field position (int32)
  uint32_t* valid;  // validity words
};

struct pgpq_job;

struct pgpq_decoder {
  int ncols, nvar;
  pgpq_col* cols;      // host copy
  pgpq_col* d_cols;    // device copy
  int32_t* vcols;      // host: column index of each var-length GPU column
  int32_t* d_vcols;
  int device;
  pthread_mutex_t mu;
  pgpq_job* free_jobs;
};

// pgpq_job is one CUDA stream with its device buffers. Jobs are pooled by their decoder and
// their buffers only grow, so a steady stream of chunks allocates nothing.
struct pgpq_job {
  pgpq_decoder* dec;
  cudaStream_t stream;
  cudaEvent_t ev0, ev1;
  int64_t rows, nbytes;
  size_t cap_data, cap_starts, cap_work, cap_out, cap_tmp;  // bytes
  uint8_t* d_data;
  uint32_t* d_starts;
  int32_t* d_work;      // [nvar][rows+1] lengths, [nvar][rows+1] scan, [nvar][rows] field offsets
  unsigned long long* d_stats;  // [ncols] nulls, [ncols] var bytes, [1] bad flag
  unsigned long long* h_stats;  // pinned copy of d_stats
  pgpq_out* d_outs;
  pgpq_out* h_outs;     // pinned
  uint8_t* d_out;       // every output buffer of one chunk
  void* d_tmp;          // cub scan scratch
  size_t* layout;       // [3*ncols] offsets in d_out of values, validity, data
  size_t* sizes;        // [3*ncols] their sizes
  pgpq_job* next;
};

// Faults to inject, for tests of the Go side's recovery (pgpq_inject_faults): the next this many
// scans / finishes fail as a CUDA error would. Test-only process state.
static int g_fail_scans = 0, g_fail_finishes = 0;

// take_fault consumes one injected fault from *n, if any is left.
static bool take_fault(int* n) {
  int v = __atomic_load_n(n, __ATOMIC_SEQ_CST);
  while (v > 0) {
    if (__atomic_compare_exchange_n(n, &v, v - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return true;
  }
  return false;
}

static void set_err(char* err, int n, const char* what, cudaError_t e) {
  if (err && n > 0) snprintf(err, n, "%s: %s", what, cudaGetErrorString(e));
}

#define CK(call, what)                                   \
  do {                                                   \
    cudaError_t e_ = (call);                             \
    if (e_ != cudaSuccess) { set_err(err, errlen, what, e_); return -1; } \
  } while (0)

__device__ __forceinline__ uint32_t be16(const uint8_t* p) { return ((uint32_t)p[0] << 8) | p[1]; }
__device__ __forceinline__ uint32_t be32(const uint8_t* p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
__device__ __forceinline__ uint64_t be64(const uint8_t* p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

// decimal: the unscaled integer at the column's scale, exactly, or false when the CPU decoder
// must judge the value (NaN, infinities, too many digits, digits beyond the scale, bad digits).
__device__ bool numeric_to_i128(const uint8_t* p, int32_t len, int prec, int scale, __int128* out) {
  if (len < 8) return false;
  int ndigits = (int16_t)be16(p);
  int weight = (int16_t)be16(p + 2);
  uint32_t sign = be16(p + 4);
  uint32_t dscale = be16(p + 6);
  if (ndigits < 0 || len != 8 + 2 * ndigits || (dscale & ~0x3FFFu) != 0) return false;
  if (sign != 0x0000 && sign != 0x4000) return false;
  int i0 = 0;
  while (i0 < ndigits && be16(p + 8 + 2 * i0) == 0) i0++;
  if (i0 == ndigits) { *out = 0; return true; }
  int n = ndigits - i0;
  int pe = 4 * (weight - i0) + scale;  // decimal exponent of the first significant digit's unit
  int last = pe - 4 * (n - 1);         // and of the last digit's
  if (last <= -4) return false;        // a whole non-zero digit below the scale
  unsigned __int128 limit = 1;
  for (int k = 0; k < prec; k++) limit *= 10;
  // acc stays below limit <= 10^38 < 2^127: every step checks before it multiplies.
  unsigned __int128 acc = 0;
  for (int i = i0; i < ndigits; i++) {
    uint32_t d = be16(p + 8 + 2 * i);
    if (d >= 10000) return false;
    uint32_t m = 10000;
    if (i == ndigits - 1 && last < 0) {
      uint32_t q = last == -1 ? 10 : last == -2 ? 100 : 1000;
      if (d % q != 0) return false;  // a non-zero digit below the scale
      d /= q;
      m /= q;
    }
    if (acc > (limit - 1) / m) return false;
    acc *= m;
    if (acc + d >= limit) return false;
    acc += d;
  }
  for (int k = 0; k < last; k++) {
    if (acc > (limit - 1) / 10) return false;
    acc *= 10;
  }
  *out = sign == 0x4000 ? -(__int128)acc : (__int128)acc;
  return true;
}

// put_fixed writes row r's value of a fixed-width column (0 for NULL); false when the value
// must be judged by the CPU decoder.
__device__ __forceinline__ bool put_fixed(const pgpq_col& col, const uint8_t* p, int32_t len, uint8_t* vals, int64_t r) {
  bool present = len >= 0;
  switch (col.kind) {
    case K_INT16: ((uint16_t*)vals)[r] = present ? (uint16_t)be16(p) : 0; return true;
    case K_INT32:
    case K_FLOAT32: ((uint32_t*)vals)[r] = present ? be32(p) : 0; return true;
    case K_INT64:
    case K_FLOAT64: ((uint64_t*)vals)[r] = present ? be64(p) : 0; return true;
    case K_DATE: {
      int32_t v = present ? (int32_t)be32(p) : 0;
      bool ok = true;
      if (present && v != INT32_MAX && v != INT32_MIN) {
        if (v >= INT32_MAX - PG_EPOCH_DAYS) { ok = false; v = 0; }
        else v += (int32_t)PG_EPOCH_DAYS;
      }
      ((int32_t*)vals)[r] = v;
      return ok;
    }
    case K_TIMESTAMP:
    case K_TIMESTAMPTZ: {
      long long v = present ? (long long)be64(p) : 0;
      bool ok = true;
      if (present && v != INT64_MAX && v != INT64_MIN) {
        if (v >= INT64_MAX - PG_EPOCH_MICROS) { ok = false; v = 0; }
        else v += PG_EPOCH_MICROS;
      }
      ((long long*)vals)[r] = v;
      return ok;
    }
    case K_UUID: {
      uint8_t* o = vals + 16 * r;
      for (int k = 0; k < 16; k++) o[k] = present ? p[k] : 0;
      return true;
    }
    case K_DECIMAL128: {
      __int128 v = 0;
      bool ok = !present || numeric_to_i128(p, len, col.precision, col.scale, &v);
      ((__int128*)vals)[r] = ok ? v : 0;
      return ok;
    }
  }
  return false;
}

#define DECODE_THREADS 128
#define SMEM_WORDS 8192  // 32 KiB: a block's tuples when they average up to 256 bytes

// decode_kernel: one thread per tuple, DECODE_THREADS consecutive tuples per block. The block's
// bytes (tuples are back to back) are staged in shared memory with coalesced loads when they
// fit. Each thread walks its tuple, checking the framing against the recorded row starts, and
// every thread handles column c at the same time, so validity bits and bool values are gathered
// with warp ballots and values are written coalesced.
__global__ void __launch_bounds__(DECODE_THREADS) decode_kernel(
    const uint8_t* __restrict__ data, int64_t nbytes, const uint32_t* __restrict__ starts, int64_t rows, int ncols,
    int nvar, const pgpq_col* __restrict__ cols, const pgpq_out* __restrict__ outs, int32_t* __restrict__ work,
    unsigned long long* stats) {
  __shared__ uint32_t sm[SMEM_WORDS];
  const int64_t r0 = (int64_t)blockIdx.x * DECODE_THREADS;
  const int64_t r = r0 + threadIdx.x;
  const int64_t rend = min(r0 + DECODE_THREADS, rows);
  const int64_t bstart = starts[r0];
  const int64_t bend = rend < rows ? (int64_t)starts[rend] : nbytes;
  const int64_t base = bstart & ~(int64_t)3;
  const int64_t nw = (bend - base + 3) >> 2;
  const bool staged = bend >= bstart && bend <= nbytes && nw <= SMEM_WORDS;  // same for the whole block
  if (staged) {
    const uint32_t* src = (const uint32_t*)data + (base >> 2);  // d_data has slack past nbytes
    for (int64_t i = threadIdx.x; i < nw; i += DECODE_THREADS) sm[i] = src[i];
    __syncthreads();
  }
  const uint8_t* smb = (const uint8_t*)sm;
#define AT(pos) (staged ? smb + ((pos) - base) : data + (pos))
  const bool in = r < rows;
  bool ok = in;
  int64_t pos = in ? starts[r] : 0;
  const int64_t end = in ? (r + 1 < rows ? (int64_t)starts[r + 1] : nbytes) : 0;
  // A staged block only reads its own bytes: row starts outside them (never from a correct
  // receiver) go to the CPU.
  if (ok && (end > nbytes || pos + 2 > end || (staged && (pos < bstart || end > bend)) ||
             (int32_t)(int16_t)be16(AT(pos)) != ncols)) ok = false;
  pos += 2;
  const int lane = threadIdx.x & 31;
  int32_t* lens = work;
  int32_t* foffs = work + 2 * (size_t)nvar * (rows + 1);
  for (int c = 0; c < ncols; c++) {
    int32_t len = -1;
    int64_t fpos = 0;
    const int64_t lpos = pos;  // the field's length word
    if (ok) {
      if (pos + 4 > end) {
        ok = false;
      } else {
        len = (int32_t)be32(AT(pos));
        pos += 4;
        if (len < -1 || (len >= 0 && pos + len > end)) ok = false;
        else if (len >= 0) { fpos = pos; pos += len; }
      }
      if (!ok) len = -1;
    }
    const pgpq_col col = cols[c];
    if (ok && len >= 0 && col.fixed > 0 && len != col.fixed) { ok = false; len = -1; }
    const bool present = len >= 0;
    const unsigned nullmask = __ballot_sync(0xffffffffu, in && !present);
    if (lane == 0 && nullmask) atomicAdd(&stats[c], (unsigned long long)__popc(nullmask));
    const pgpq_out o = outs[c];
    if (!col.on_gpu) {
      // The CPU decodes this column from where its fields are (meaningless once !ok: the
      // chunk then goes to the CPU whole).
      if (in) ((int32_t*)o.vals)[r] = (int32_t)lpos;
      continue;
    }
    const unsigned validmask = __ballot_sync(0xffffffffu, in && present);
    if (lane == 0 && r < rows) o.valid[r >> 5] = validmask;
    if (col.varlen) {
      int32_t n = present ? len : 0;
      if (present && col.kind == K_JSONB) {
        if (len < 1 || *AT(fpos) != 1) ok = false;
        fpos += 1;
        n = len - 1;
        if (!ok) n = 0;
      }
      if (in) {
        lens[(size_t)col.vidx * (rows + 1) + r] = n;
        foffs[(size_t)col.vidx * rows + r] = (int32_t)fpos;
        if (r == rows - 1) lens[(size_t)col.vidx * (rows + 1) + rows] = 0;
      }
      unsigned long long sum = (unsigned long long)n;
      for (int k = 16; k > 0; k >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, k);
      if (lane == 0 && sum) atomicAdd(&stats[ncols + c], sum);
    } else if (col.kind == K_BOOL) {
      const unsigned bits = __ballot_sync(0xffffffffu, in && present && *AT(fpos) != 0);
      if (lane == 0 && r < rows) ((uint32_t*)o.vals)[r >> 5] = bits;
    } else if (in) {
      if (!put_fixed(col, AT(fpos), len, o.vals, r)) ok = false;
    }
  }
  if (in && ok && pos != end) ok = false;
  if (in && !ok) atomicOr(&stats[2 * ncols], 1ull);
#undef AT
}

// copy_kernel: a warp per var-length value (blockIdx.y is the var-length column), writing the
// Arrow offsets (relative to the column's first byte) and the bytes.
__global__ void copy_kernel(const uint8_t* __restrict__ data, int64_t rows, int nvar, const int32_t* __restrict__ vcols,
                            const pgpq_out* __restrict__ outs, const int32_t* __restrict__ work, uint8_t* __restrict__ dst) {
  const int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const int v = blockIdx.y;
  if (w > rows) return;
  const int32_t* lens = work + (size_t)v * (rows + 1);
  const int32_t* scan = work + (size_t)nvar * (rows + 1) + (size_t)v * (rows + 1);
  const int32_t* foffs = work + 2 * (size_t)nvar * (rows + 1) + (size_t)v * rows;
  const int32_t at = scan[w];
  if (lane == 0) ((int32_t*)outs[vcols[v]].vals)[w] = at - scan[0];
  if (w == rows) return;
  const int32_t n = lens[w];
  const uint8_t* src = data + foffs[w];
  uint8_t* out = dst + at;
  for (int32_t k = lane; k < n; k += 32) out[k] = src[k];
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

// grow makes *p hold at least need bytes of device memory, with slack past the end.
static cudaError_t grow(void** p, size_t* cap, size_t need) {
  if (need <= *cap && *p) return cudaSuccess;
  if (*p) cudaFree(*p);
  *p = NULL;
  size_t n = need + need / 4 + 4096;
  cudaError_t e = cudaMalloc(p, n);
  *cap = e == cudaSuccess ? n - 4096 : 0;
  return e;
}

static void job_destroy(pgpq_job* j) {
  if (j->stream) cudaStreamSynchronize(j->stream);
  cudaFree(j->d_data);
  cudaFree(j->d_starts);
  cudaFree(j->d_work);
  cudaFree(j->d_stats);
  cudaFree(j->d_outs);
  cudaFree(j->d_out);
  cudaFree(j->d_tmp);
  cudaFreeHost(j->h_stats);
  cudaFreeHost(j->h_outs);
  if (j->ev0) cudaEventDestroy(j->ev0);
  if (j->ev1) cudaEventDestroy(j->ev1);
  if (j->stream) cudaStreamDestroy(j->stream);
  free(j->layout);
  free(j->sizes);
  free(j);
}

static pgpq_job* job_get(pgpq_decoder* d, cudaError_t* e) {
  pthread_mutex_lock(&d->mu);
  pgpq_job* j = d->free_jobs;
  if (j) d->free_jobs = j->next;
  pthread_mutex_unlock(&d->mu);
  if (j) return j;
  j = (pgpq_job*)calloc(1, sizeof(pgpq_job));
  j->dec = d;
  int n = d->ncols > 0 ? d->ncols : 1;
  j->layout = (size_t*)calloc(3 * n, sizeof(size_t));
  j->sizes = (size_t*)calloc(3 * n, sizeof(size_t));
  *e = cudaStreamCreateWithFlags(&j->stream, cudaStreamNonBlocking);
  if (*e == cudaSuccess) *e = cudaEventCreate(&j->ev0);
  if (*e == cudaSuccess) *e = cudaEventCreate(&j->ev1);
  if (*e == cudaSuccess) *e = cudaMalloc((void**)&j->d_stats, sizeof(unsigned long long) * (2 * n + 1));
  if (*e == cudaSuccess) *e = cudaMallocHost((void**)&j->h_stats, sizeof(unsigned long long) * (2 * n + 1));
  if (*e == cudaSuccess) *e = cudaMalloc((void**)&j->d_outs, sizeof(pgpq_out) * n);
  if (*e == cudaSuccess) *e = cudaMallocHost((void**)&j->h_outs, sizeof(pgpq_out) * n);
  if (*e != cudaSuccess) { job_destroy(j); return NULL; }
  return j;
}

static void job_put(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  pthread_mutex_lock(&d->mu);
  j->next = d->free_jobs;
  d->free_jobs = j;
  pthread_mutex_unlock(&d->mu);
}

// run uploads a chunk and launches everything on the job's stream: decode, scan, copy, and the
// copy of the statistics back to h_stats. The caller synchronizes.
static cudaError_t run(pgpq_job* j, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows, bool upload) {
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols, nvar = d->nvar;
  cudaStream_t s = j->stream;
  j->rows = rows;
  j->nbytes = nbytes;
  size_t rows1 = rows > 0 ? (size_t)rows : 1;
  int64_t words = (rows + 31) / 32;
  // Output layout: per GPU column its values and validity words; one region for the bytes of
  // every var-length column (their total never exceeds the chunk).
  size_t total = 0;
  for (int c = 0; c < ncols; c++) {
    pgpq_col col = d->cols[c];
    size_t* sz = j->sizes + 3 * c;
    sz[0] = sz[1] = sz[2] = 0;
    if (!col.on_gpu) {
      sz[0] = 4 * (size_t)rows;  // field positions
    } else {
      sz[0] = col.varlen ? 4 * (size_t)(rows + 1) : col.kind == K_BOOL ? 4 * (size_t)words : (size_t)col.width * rows;
      sz[1] = 4 * (size_t)words;
    }
    for (int k = 0; k < 2; k++) {
      j->layout[3 * c + k] = total;
      total += align64(sz[k]);
    }
  }
  size_t dataAt = total;
  total += align64((size_t)nbytes);
  cudaError_t e = cudaSuccess;
  if (upload) {
    e = grow((void**)&j->d_data, &j->cap_data, nbytes > 0 ? nbytes : 1);
    if (e == cudaSuccess) e = grow((void**)&j->d_starts, &j->cap_starts, sizeof(uint32_t) * rows1);
    if (e == cudaSuccess && nbytes > 0) e = cudaMemcpyAsync(j->d_data, data, nbytes, cudaMemcpyHostToDevice, s);
    if (e == cudaSuccess && rows > 0) e = cudaMemcpyAsync(j->d_starts, starts, sizeof(uint32_t) * rows, cudaMemcpyHostToDevice, s);
  }
  if (e == cudaSuccess) e = grow((void**)&j->d_work, &j->cap_work, sizeof(int32_t) * (3 * (size_t)nvar * (rows1 + 1) + 1));
  if (e == cudaSuccess) e = grow((void**)&j->d_out, &j->cap_out, total > 0 ? total : 1);
  size_t scanTmp = 0;
  int nscan = (int)((size_t)nvar * (rows + 1));
  if (e == cudaSuccess && nvar > 0) e = cub::DeviceScan::ExclusiveSum(NULL, scanTmp, (int32_t*)NULL, (int32_t*)NULL, nscan, s);
  if (e == cudaSuccess) e = grow(&j->d_tmp, &j->cap_tmp, scanTmp > 0 ? scanTmp : 1);
  for (int c = 0; c < ncols; c++) {
    j->h_outs[c].vals = j->d_out + j->layout[3 * c];
    j->h_outs[c].valid = (uint32_t*)(j->d_out + j->layout[3 * c + 1]);
    j->layout[3 * c + 2] = dataAt;  // plus the column's scan base, read back with the stats
  }
  if (e == cudaSuccess && ncols > 0) e = cudaMemcpyAsync(j->d_outs, j->h_outs, sizeof(pgpq_out) * ncols, cudaMemcpyHostToDevice, s);
  if (e == cudaSuccess) e = cudaMemsetAsync(j->d_stats, 0, sizeof(unsigned long long) * (2 * ncols + 1), s);
  if (e == cudaSuccess && rows > 0) {
    decode_kernel<<<(unsigned)((rows + DECODE_THREADS - 1) / DECODE_THREADS), DECODE_THREADS, 0, s>>>(
        j->d_data, nbytes, j->d_starts, rows, ncols, nvar, d->d_cols, j->d_outs, j->d_work, j->d_stats);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess && rows > 0 && nvar > 0) {
    size_t tmp = scanTmp;
    e = cub::DeviceScan::ExclusiveSum(j->d_tmp, tmp, j->d_work, j->d_work + (size_t)nvar * (rows + 1), nscan, s);
    if (e == cudaSuccess) {
      dim3 grid((unsigned)(((rows + 1) * 32 + 255) / 256), (unsigned)nvar);
      copy_kernel<<<grid, 256, 0, s>>>(j->d_data, rows, nvar, d->d_vcols, j->d_outs, j->d_work, j->d_out + dataAt);
      e = cudaGetLastError();
    }
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(j->h_stats, j->d_stats, sizeof(unsigned long long) * (2 * ncols + 1), cudaMemcpyDeviceToHost, s);
  return e;
}

extern "C" {

int pgpq_abi_version(void) { return PGPQ_ABI; }

// pgpq_device_count returns the number of CUDA devices, or -1 with err set. It also creates
// device 0's context, which takes a few hundred milliseconds: the Go side calls this while an
// export takes its snapshot, so that decoding can start at once.
int pgpq_device_count(char* err, int errlen) {
  int n = 0;
  CK(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (n > 0) {
    // Threads waiting for a stream sleep instead of spinning (see pgpq_open); the flag must
    // be set before the context exists.
    cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
    cudaGetLastError();
    CK(cudaSetDevice(0), "cudaSetDevice");
    CK(cudaFree(0), "create the device context");
  }
  return n;
}

// pgpq_host_alloc returns pinned host memory (fast host<->device copies), NULL on failure.
void* pgpq_host_alloc(size_t n) {
  void* p = NULL;
  if (cudaMallocHost(&p, n) != cudaSuccess) return NULL;
  return p;
}

void pgpq_host_free(void* p) { cudaFreeHost(p); }

// pgpq_open makes a decoder for ncols columns described by cols (copied).
void* pgpq_open(int device, int ncols, const pgpq_col* cols, char* err, int errlen) {
  // Threads waiting for a stream sleep instead of spinning: every CPU cycle an export burns is
  // taken from the PostgreSQL backends it reads from. (Fails harmlessly once the device's
  // context exists.)
  cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
  cudaGetLastError();
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) { set_err(err, errlen, "cudaSetDevice", e); return NULL; }
  pgpq_decoder* d = (pgpq_decoder*)calloc(1, sizeof(pgpq_decoder));
  d->ncols = ncols;
  d->device = device;
  pthread_mutex_init(&d->mu, NULL);
  int n = ncols > 0 ? ncols : 1;
  d->cols = (pgpq_col*)calloc(n, sizeof(pgpq_col));
  d->vcols = (int32_t*)calloc(n, sizeof(int32_t));
  memcpy(d->cols, cols, sizeof(pgpq_col) * ncols);
  for (int c = 0; c < ncols; c++) {
    d->cols[c].vidx = -1;
    if (d->cols[c].on_gpu && d->cols[c].varlen) {
      d->cols[c].vidx = d->nvar;
      d->vcols[d->nvar++] = c;
    }
  }
  e = cudaMalloc(&d->d_cols, sizeof(pgpq_col) * n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_cols, d->cols, sizeof(pgpq_col) * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMalloc(&d->d_vcols, sizeof(int32_t) * n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_vcols, d->vcols, sizeof(int32_t) * n, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_open", e);
    cudaFree(d->d_cols);
    cudaFree(d->d_vcols);
    free(d->cols);
    free(d->vcols);
    free(d);
    return NULL;
  }
  return d;
}

void pgpq_close(void* h) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  if (!d) return;
  while (d->free_jobs) {
    pgpq_job* j = d->free_jobs;
    d->free_jobs = j->next;
    job_destroy(j);
  }
  cudaFree(d->d_cols);
  cudaFree(d->d_vcols);
  pthread_mutex_destroy(&d->mu);
  free(d->cols);
  free(d->vcols);
  free(d);
}

// pgpq_scan decodes a chunk on the device: it copies the chunk up, runs every kernel and
// returns, per column, the NULL count (nulls[c]) and var-length bytes (varbytes[c]), and *bad != 0
// when the chunk must be decoded on the CPU. It returns the job (NULL with err set on a CUDA
// error), which pgpq_finish or pgpq_abort must end.
void* pgpq_scan(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows,
                int64_t* nulls, int64_t* varbytes, int32_t* bad, char* err, int errlen) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  int ncols = d->ncols;
  cudaError_t e = cudaSuccess;
  pgpq_job* j = job_get(d, &e);
  if (!j) { set_err(err, errlen, "pgpq_scan: new stream", e); return NULL; }
  e = run(j, data, nbytes, starts, rows, true);
  if (e == cudaSuccess && take_fault(&g_fail_scans)) e = cudaErrorLaunchFailure;
  if (e == cudaSuccess) e = cudaStreamSynchronize(j->stream);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_scan", e);
    job_destroy(j);
    return NULL;
  }
  // The var-length columns' bytes lie back to back in column order: each starts where the
  // previous ends.
  size_t at = 0;
  for (int c = 0; c < ncols; c++) {
    nulls[c] = (int64_t)j->h_stats[c];
    varbytes[c] = (int64_t)j->h_stats[ncols + c];
    if (d->cols[c].on_gpu && d->cols[c].varlen) {
      j->layout[3 * c + 2] += at;
      j->sizes[3 * c + 2] = (size_t)varbytes[c];
      at += (size_t)varbytes[c];
    }
  }
  *bad = j->h_stats[2 * ncols] != 0;
  return j;
}

// pgpq_finish copies the job's columns into the host buffers given per column in three
// arrays of ncols pointers: values (offsets for var-length columns; the bitmap for bool; the
// int32 field positions of a column decoded on the CPU),
// validity (NULL when the column has no NULLs) and var-length data, then returns the job to its
// pool. *bad is always 0 here: pgpq_scan reported every problem.
int pgpq_finish(void* jh, uint8_t** vals, uint8_t** valid, uint8_t** vardata, int32_t* bad, char* err, int errlen) {
  pgpq_job* j = (pgpq_job*)jh;
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  int64_t rows = j->rows;
  cudaStream_t s = j->stream;
  cudaError_t e = cudaSuccess;
  size_t bitmap = (size_t)((rows + 7) / 8);
  for (int c = 0; c < ncols && e == cudaSuccess; c++) {
    pgpq_col col = d->cols[c];
    const size_t* sz = j->sizes + 3 * c;
    if (!col.on_gpu) {
      if (sz[0] && vals[c]) e = cudaMemcpyAsync(vals[c], j->d_out + j->layout[3 * c], sz[0], cudaMemcpyDeviceToHost, s);
      continue;
    }
    size_t vbytes = col.kind == K_BOOL ? bitmap : sz[0];
    if (vbytes && vals[c]) e = cudaMemcpyAsync(vals[c], j->d_out + j->layout[3 * c], vbytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess && valid[c] && bitmap) e = cudaMemcpyAsync(valid[c], j->d_out + j->layout[3 * c + 1], bitmap, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess && col.varlen && sz[2] && vardata[c]) e = cudaMemcpyAsync(vardata[c], j->d_out + j->layout[3 * c + 2], sz[2], cudaMemcpyDeviceToHost, s);
  }
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  if (e == cudaSuccess && take_fault(&g_fail_finishes)) e = cudaErrorLaunchFailure;
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_finish", e);
    job_destroy(j);
    return -1;
  }
  *bad = 0;
  job_put(j);
  return 0;
}

// pgpq_inject_faults makes the next scans calls of pgpq_scan and finishes calls of pgpq_finish
// fail as if the device had failed (cudaErrorLaunchFailure), for tests; optional in the ABI.
void pgpq_inject_faults(int scans, int finishes) {
  __atomic_store_n(&g_fail_scans, scans, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_fail_finishes, finishes, __ATOMIC_SEQ_CST);
}

// pgpq_abort ends a job without copying its results.
void pgpq_abort(void* jh) {
  pgpq_job* j = (pgpq_job*)jh;
  if (cudaStreamSynchronize(j->stream) != cudaSuccess) { job_destroy(j); return; }
  job_put(j);
}

// pgpq_bench_kernels measures the kernels alone: the chunk is uploaded once, then the decode,
// scan and copy kernels run iters times; *ms is the mean time of one pass (CUDA events).
int pgpq_bench_kernels(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows, int iters,
                       float* ms, char* err, int errlen) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  cudaError_t e = cudaSuccess;
  pgpq_job* j = job_get(d, &e);
  if (!j) { set_err(err, errlen, "bench: new stream", e); return -1; }
  e = run(j, data, nbytes, starts, rows, true);  // upload and warm up
  if (e == cudaSuccess) e = cudaEventRecord(j->ev0, j->stream);
  for (int i = 0; i < iters && e == cudaSuccess; i++) e = run(j, data, nbytes, starts, rows, false);
  if (e == cudaSuccess) e = cudaEventRecord(j->ev1, j->stream);
  if (e == cudaSuccess) e = cudaEventSynchronize(j->ev1);
  float total = 0;
  if (e == cudaSuccess) e = cudaEventElapsedTime(&total, j->ev0, j->ev1);
  if (e != cudaSuccess) {
    set_err(err, errlen, "bench", e);
    job_destroy(j);
    return -1;
  }
  *ms = total / (iters > 0 ? iters : 1);
  job_put(j);
  return 0;
}

}  // extern "C"
