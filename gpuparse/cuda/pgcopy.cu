// pgcopy.cu: the CUDA decoder of PostgreSQL COPY BINARY tuples into Arrow buffers.
//
// Built by `make cuda` into libpgparquet_cuda.so, which the Go side (gpuparse/cuda.go) loads
// at run time with dlopen, so one Go binary serves hosts with and without a GPU. The C ABI
// below is the only contract between the two; every pointer the Go side passes is either host
// memory it owns for the duration of the call or pinned memory from pgpq_host_alloc.
//
// Tuple boundaries are exact, never guessed: the receiver records where each CopyData message
// (one per row) starts, and the walk kernel checks that every tuple's field count is right and
// that walking its field lengths ends exactly at the next recorded start. Any mismatch, and any
// value this decoder would have to judge (NaN in a decimal column, an out-of-range timestamp,
// a malformed numeric), sets the job's flag: the Go side then decodes that chunk with the CPU
// decoder, the reference, which returns the same batch or the exact error. So the GPU path
// never produces a result the CPU path would not.
#include <cuda_runtime.h>
#include <cub/device/device_scan.cuh>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PGPQ_ABI 1

// Column kinds: the same numbers as gpuparse.Kind.
enum {
  K_BOOL = 1, K_INT16, K_INT32, K_INT64, K_FLOAT32, K_FLOAT64, K_STRING, K_BINARY, K_UUID,
  K_JSON, K_JSONB, K_DATE, K_TIMESTAMP, K_TIMESTAMPTZ, K_DECIMAL128, K_DECIMAL256, K_NUMERIC_STRING
};

static const int64_t PG_EPOCH_DAYS = 10957;
static const long long PG_EPOCH_MICROS = 946684800000000LL;

struct pgpq_col {
  int32_t kind;
  int32_t fixed;      // exact field length, 0 for variable length
  int32_t width;      // bytes per value in the values buffer (0: bool bitmap or var-length)
  int32_t varlen;     // 1: offsets + data
  int32_t precision;  // decimals
  int32_t scale;
  int32_t on_gpu;     // 0: the Go side decodes this column on the CPU
  int32_t pad;
};

struct pgpq_job;

struct pgpq_decoder {
  int ncols;
  pgpq_col* cols;      // host copy
  pgpq_col* d_cols;    // device copy
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
  size_t cap_data, cap_starts, cap_foff, cap_flen, cap_out, cap_tmp;  // bytes
  uint8_t* d_data;
  uint32_t* d_starts;
  int32_t* d_foff;     // [ncols][rows] field body offsets
  int32_t* d_flen;     // [ncols][rows] field lengths (-1 NULL)
  unsigned long long* d_stats;  // [ncols] nulls, [ncols] var bytes, [1] bad flag
  unsigned long long* h_stats;  // pinned copy of d_stats
  uint8_t* d_out;      // every output buffer of one chunk
  void* d_tmp;         // cub scan scratch + lengths
  size_t* layout;      // [3*ncols] offsets in d_out of values, validity, data
  size_t* sizes;       // [3*ncols] their sizes
  size_t scan_tmp;
  pgpq_job* next;
};

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

// walk: one thread per tuple. Checks the framing against the recorded row starts and records
// each field's offset and length, column-major. Counts NULLs and var-length bytes per column.
__global__ void walk_kernel(const uint8_t* __restrict__ data, int64_t nbytes, const uint32_t* __restrict__ starts,
                            int64_t rows, int ncols, const pgpq_col* __restrict__ cols, int32_t* __restrict__ foff,
                            int32_t* __restrict__ flen, unsigned long long* stats) {
  int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  unsigned long long* bad = stats + 2 * ncols;
  if (r >= rows) return;
  int64_t pos = starts[r];
  int64_t end = (r + 1 < rows) ? (int64_t)starts[r + 1] : nbytes;
  if (end > nbytes || pos + 2 > end || (int32_t)(int16_t)be16(data + pos) != ncols) { atomicOr(bad, 1ull); return; }
  pos += 2;
  for (int c = 0; c < ncols; c++) {
    if (pos + 4 > end) { atomicOr(bad, 1ull); return; }
    int32_t len = (int32_t)be32(data + pos);
    pos += 4;
    int64_t i = (int64_t)c * rows + r;
    if (len < 0) {
      if (len != -1) { atomicOr(bad, 1ull); return; }
      foff[i] = (int32_t)pos;
      flen[i] = -1;
      atomicAdd(&stats[c], 1ull);
      continue;
    }
    if (pos + len > end) { atomicOr(bad, 1ull); return; }
    const pgpq_col col = cols[c];
    if (col.fixed > 0 && len != col.fixed) { atomicOr(bad, 1ull); return; }
    foff[i] = (int32_t)pos;
    flen[i] = len;
    if (col.varlen && col.on_gpu) {
      int32_t n = len;
      if (col.kind == K_JSONB) {
        if (len < 1 || data[pos] != 1) { atomicOr(bad, 1ull); return; }
        n = len - 1;
      }
      if (n > 0) atomicAdd(&stats[ncols + c], (unsigned long long)n);
    }
    pos += len;
  }
  if (pos != end) atomicOr(bad, 1ull);
}

// validity and bool bitmaps: one bit per row, written a 32-bit word per warp (rows are
// grouped by warp, so word w holds rows 32w..32w+31, little-endian bit order as Arrow's).
__device__ __forceinline__ void put_bits(uint32_t* bitmap, int64_t r, int64_t rows, bool bit) {
  unsigned mask = __ballot_sync(0xffffffffu, bit && r < rows);
  if ((threadIdx.x & 31) == 0 && r < rows) bitmap[r >> 5] = mask;
}

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

// fixed: one thread per row of one fixed-width column.
__global__ void fixed_kernel(const uint8_t* __restrict__ data, int64_t rows, pgpq_col col,
                             const int32_t* __restrict__ foff, const int32_t* __restrict__ flen,
                             uint8_t* __restrict__ vals, uint32_t* __restrict__ valid, unsigned long long* bad) {
  int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  bool in = r < rows;
  int32_t len = in ? flen[r] : -1;
  bool present = len >= 0;
  const uint8_t* p = data + (in ? foff[r] : 0);
  if (valid) put_bits(valid, r, rows, present);
  if (col.kind == K_BOOL) {
    put_bits((uint32_t*)vals, r, rows, present && p[0] != 0);
    return;
  }
  if (!in) return;
  switch (col.kind) {
    case K_INT16: ((uint16_t*)vals)[r] = present ? (uint16_t)be16(p) : 0; break;
    case K_INT32:
    case K_FLOAT32: ((uint32_t*)vals)[r] = present ? be32(p) : 0; break;
    case K_INT64:
    case K_FLOAT64: ((uint64_t*)vals)[r] = present ? be64(p) : 0; break;
    case K_DATE: {
      int32_t v = present ? (int32_t)be32(p) : 0;
      if (present && v != INT32_MAX && v != INT32_MIN) {
        if (v >= INT32_MAX - PG_EPOCH_DAYS) { atomicOr(bad, 1ull); v = 0; }
        else v += (int32_t)PG_EPOCH_DAYS;
      }
      ((int32_t*)vals)[r] = v;
      break;
    }
    case K_TIMESTAMP:
    case K_TIMESTAMPTZ: {
      long long v = present ? (long long)be64(p) : 0;
      if (present && v != INT64_MAX && v != INT64_MIN) {
        if (v >= INT64_MAX - PG_EPOCH_MICROS) { atomicOr(bad, 1ull); v = 0; }
        else v += PG_EPOCH_MICROS;
      }
      ((long long*)vals)[r] = v;
      break;
    }
    case K_UUID: {
      uint8_t* o = vals + 16 * r;
      for (int k = 0; k < 16; k++) o[k] = present ? p[k] : 0;
      break;
    }
    case K_DECIMAL128: {
      __int128 v = 0;
      if (present && !numeric_to_i128(p, len, col.precision, col.scale, &v)) { atomicOr(bad, 1ull); v = 0; }
      ((__int128*)vals)[r] = v;
      break;
    }
  }
}

// lengths of a var-length column's values (0 for NULL) for the offsets scan.
__global__ void varlen_lengths_kernel(int64_t rows, pgpq_col col, const int32_t* __restrict__ flen, int32_t* __restrict__ lens) {
  int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (r > rows) return;
  int32_t l = r < rows ? flen[r] : 0;
  if (l < 0) l = 0;
  if (l > 0 && col.kind == K_JSONB) l -= 1;
  lens[r] = l;
}

// var-length copy: one warp per row, the warp's lanes copying bytes side by side.
__global__ void varlen_copy_kernel(const uint8_t* __restrict__ data, int64_t rows, pgpq_col col,
                                   const int32_t* __restrict__ foff, const int32_t* __restrict__ flen,
                                   const int32_t* __restrict__ offs, uint8_t* __restrict__ out) {
  int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t r = t >> 5;
  int lane = threadIdx.x & 31;
  if (r >= rows) return;
  int32_t len = flen[r];
  if (len <= 0) return;
  const uint8_t* src = data + foff[r];
  if (col.kind == K_JSONB) { src++; len--; }
  uint8_t* dst = out + offs[r];
  for (int32_t k = lane; k < len; k += 32) dst[k] = src[k];
}

__global__ void validity_kernel(int64_t rows, const int32_t* __restrict__ flen, uint32_t* __restrict__ valid) {
  int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  put_bits(valid, r, rows, r < rows && flen[r] >= 0);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

// grow makes *p hold at least need bytes of device memory.
static cudaError_t grow(void** p, size_t* cap, size_t need) {
  if (need <= *cap && *p) return cudaSuccess;
  if (*p) cudaFree(*p);
  *p = NULL;
  size_t n = need + need / 4 + 4096;
  cudaError_t e = cudaMalloc(p, n);
  *cap = e == cudaSuccess ? n : 0;
  return e;
}

static void job_destroy(pgpq_job* j) {
  cudaStreamSynchronize(j->stream);
  cudaFree(j->d_data);
  cudaFree(j->d_starts);
  cudaFree(j->d_foff);
  cudaFree(j->d_flen);
  cudaFree(j->d_stats);
  cudaFree(j->d_out);
  cudaFree(j->d_tmp);
  cudaFreeHost(j->h_stats);
  cudaEventDestroy(j->ev0);
  cudaEventDestroy(j->ev1);
  cudaStreamDestroy(j->stream);
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

// upload copies a chunk into the job's device buffers (asynchronously on its stream).
static cudaError_t upload(pgpq_job* j, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows) {
  int n = j->dec->ncols > 0 ? j->dec->ncols : 1;
  j->rows = rows;
  j->nbytes = nbytes;
  size_t rows1 = rows > 0 ? (size_t)rows : 1;
  cudaError_t e = grow((void**)&j->d_data, &j->cap_data, nbytes > 0 ? nbytes : 1);
  if (e == cudaSuccess) e = grow((void**)&j->d_starts, &j->cap_starts, sizeof(uint32_t) * rows1);
  if (e == cudaSuccess) e = grow((void**)&j->d_foff, &j->cap_foff, sizeof(int32_t) * rows1 * n);
  if (e == cudaSuccess) e = grow((void**)&j->d_flen, &j->cap_flen, sizeof(int32_t) * rows1 * n);
  if (e == cudaSuccess && nbytes > 0) e = cudaMemcpyAsync(j->d_data, data, nbytes, cudaMemcpyHostToDevice, j->stream);
  if (e == cudaSuccess && rows > 0) e = cudaMemcpyAsync(j->d_starts, starts, sizeof(uint32_t) * rows, cudaMemcpyHostToDevice, j->stream);
  return e;
}

// walk launches the framing check and field table fill.
static cudaError_t walk(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  cudaError_t e = cudaMemsetAsync(j->d_stats, 0, sizeof(unsigned long long) * (2 * ncols + 1), j->stream);
  if (e == cudaSuccess && j->rows > 0) {
    int threads = 256;
    walk_kernel<<<(unsigned)((j->rows + threads - 1) / threads), threads, 0, j->stream>>>(
        j->d_data, j->nbytes, j->d_starts, j->rows, ncols, d->d_cols, j->d_foff, j->d_flen, j->d_stats);
    e = cudaGetLastError();
  }
  return e;
}

// plan lays out the output buffers of every GPU column in d_out, from the NULL counts and
// var-length byte counts of the scan (h_stats).
static cudaError_t plan(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  int64_t rows = j->rows;
  int64_t words = (rows + 31) / 32;
  size_t total = 0;
  for (int c = 0; c < ncols; c++) {
    pgpq_col col = d->cols[c];
    size_t* sz = j->sizes + 3 * c;
    sz[0] = sz[1] = sz[2] = 0;
    if (!col.on_gpu) continue;
    sz[0] = col.varlen ? 4 * (size_t)(rows + 1) : col.kind == K_BOOL ? 4 * (size_t)words : (size_t)col.width * rows;
    sz[1] = j->h_stats[c] > 0 ? 4 * (size_t)words : 0;
    sz[2] = col.varlen ? (size_t)j->h_stats[ncols + c] : 0;
    for (int k = 0; k < 3; k++) {
      j->layout[3 * c + k] = total;
      total += align64(sz[k]);
    }
  }
  cudaError_t e = grow((void**)&j->d_out, &j->cap_out, total > 0 ? total : 1);
  size_t scanTmp = 0;
  if (e == cudaSuccess) e = cub::DeviceScan::ExclusiveSum(NULL, scanTmp, (int32_t*)NULL, (int32_t*)NULL, (int)(rows + 1), j->stream);
  j->scan_tmp = align64(scanTmp);
  if (e == cudaSuccess) e = grow(&j->d_tmp, &j->cap_tmp, j->scan_tmp + 4 * (size_t)(rows + 1));
  return e;
}

// decode launches the kernels that fill d_out for every GPU column.
static cudaError_t decode(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  int64_t rows = j->rows;
  cudaStream_t s = j->stream;
  int threads = 256;
  unsigned blocks = (unsigned)((rows + threads - 1) / threads);
  cudaError_t e = cudaSuccess;
  if (rows == 0) return e;
  for (int c = 0; c < ncols && e == cudaSuccess; c++) {
    pgpq_col col = d->cols[c];
    if (!col.on_gpu) continue;
    uint8_t* dv = j->d_out + j->layout[3 * c];
    uint32_t* dval = j->sizes[3 * c + 1] ? (uint32_t*)(j->d_out + j->layout[3 * c + 1]) : NULL;
    const int32_t* foff = j->d_foff + (size_t)c * rows;
    const int32_t* flen = j->d_flen + (size_t)c * rows;
    if (!col.varlen) {
      fixed_kernel<<<blocks, threads, 0, s>>>(j->d_data, rows, col, foff, flen, dv, dval, j->d_stats + 2 * ncols);
      e = cudaGetLastError();
      continue;
    }
    int32_t* lens = (int32_t*)((uint8_t*)j->d_tmp + j->scan_tmp);
    varlen_lengths_kernel<<<(unsigned)((rows + 1 + threads - 1) / threads), threads, 0, s>>>(rows, col, flen, lens);
    e = cudaGetLastError();
    size_t tmp = j->scan_tmp;
    if (e == cudaSuccess) e = cub::DeviceScan::ExclusiveSum(j->d_tmp, tmp, lens, (int32_t*)dv, (int)(rows + 1), s);
    if (e == cudaSuccess) {
      unsigned long long t = (unsigned long long)rows * 32;
      varlen_copy_kernel<<<(unsigned)((t + threads - 1) / threads), threads, 0, s>>>(
          j->d_data, rows, col, foff, flen, (const int32_t*)dv, j->d_out + j->layout[3 * c + 2]);
      e = cudaGetLastError();
    }
    if (e == cudaSuccess && dval) {
      validity_kernel<<<blocks, threads, 0, s>>>(rows, flen, dval);
      e = cudaGetLastError();
    }
  }
  return e;
}

extern "C" {

int pgpq_abi_version(void) { return PGPQ_ABI; }

// pgpq_device_count returns the number of CUDA devices, or -1 with err set.
int pgpq_device_count(char* err, int errlen) {
  int n = 0;
  CK(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
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
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) { set_err(err, errlen, "cudaSetDevice", e); return NULL; }
  pgpq_decoder* d = (pgpq_decoder*)calloc(1, sizeof(pgpq_decoder));
  d->ncols = ncols;
  d->device = device;
  pthread_mutex_init(&d->mu, NULL);
  size_t n = sizeof(pgpq_col) * (ncols > 0 ? ncols : 1);
  d->cols = (pgpq_col*)calloc(1, n);
  memcpy(d->cols, cols, sizeof(pgpq_col) * ncols);
  e = cudaMalloc(&d->d_cols, n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_cols, d->cols, n, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_open", e);
    cudaFree(d->d_cols);
    free(d->cols);
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
  pthread_mutex_destroy(&d->mu);
  free(d->cols);
  free(d);
}

// pgpq_scan starts a job: copies the chunk to the device, walks its tuples and returns, per
// column, the NULL count (nulls[c]) and var-length bytes (varbytes[c]), and *bad != 0 when the
// chunk must be decoded on the CPU. It returns the job (NULL with err set on a CUDA error),
// which pgpq_finish or pgpq_abort must end.
void* pgpq_scan(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows,
                int64_t* nulls, int64_t* varbytes, int32_t* bad, char* err, int errlen) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  int ncols = d->ncols;
  cudaError_t e = cudaSuccess;
  pgpq_job* j = job_get(d, &e);
  if (!j) { set_err(err, errlen, "pgpq_scan: new stream", e); return NULL; }
  e = upload(j, data, nbytes, starts, rows);
  if (e == cudaSuccess) e = walk(j);
  if (e == cudaSuccess) e = cudaMemcpyAsync(j->h_stats, j->d_stats, sizeof(unsigned long long) * (2 * ncols + 1), cudaMemcpyDeviceToHost, j->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(j->stream);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_scan", e);
    job_destroy(j);
    return NULL;
  }
  for (int c = 0; c < ncols; c++) {
    nulls[c] = (int64_t)j->h_stats[c];
    varbytes[c] = (int64_t)j->h_stats[ncols + c];
  }
  *bad = j->h_stats[2 * ncols] != 0;
  return j;
}

// pgpq_finish decodes the job's GPU columns and copies them into the host buffers given per
// column in three arrays of ncols pointers: values (offsets for var-length columns; the bitmap
// for bool), validity (NULL when the column has no NULLs) and var-length data. It then returns
// the job to its pool. *bad != 0 means a value must be judged by the CPU decoder: the outputs
// are then incomplete and the caller decodes the chunk on the CPU.
int pgpq_finish(void* jh, uint8_t** vals, uint8_t** valid, uint8_t** vardata, int32_t* bad, char* err, int errlen) {
  pgpq_job* j = (pgpq_job*)jh;
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  int64_t rows = j->rows;
  cudaStream_t s = j->stream;
  cudaError_t e = plan(j);
  if (e == cudaSuccess) e = decode(j);
  if (e == cudaSuccess) e = cudaMemcpyAsync(j->h_stats + 2 * ncols, j->d_stats + 2 * ncols, sizeof(unsigned long long), cudaMemcpyDeviceToHost, s);
  size_t bitmap = (size_t)((rows + 7) / 8);
  for (int c = 0; c < ncols && e == cudaSuccess; c++) {
    pgpq_col col = d->cols[c];
    if (!col.on_gpu) continue;
    const size_t* sz = j->sizes + 3 * c;
    const uint8_t* base = j->d_out;
    size_t vbytes = col.kind == K_BOOL ? bitmap : sz[0];
    if (vbytes) e = cudaMemcpyAsync(vals[c], base + j->layout[3 * c], vbytes, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess && sz[1] && valid[c]) e = cudaMemcpyAsync(valid[c], base + j->layout[3 * c + 1], bitmap, cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess && sz[2]) e = cudaMemcpyAsync(vardata[c], base + j->layout[3 * c + 2], sz[2], cudaMemcpyDeviceToHost, s);
  }
  if (e == cudaSuccess) e = cudaStreamSynchronize(s);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_finish", e);
    job_destroy(j);
    return -1;
  }
  *bad = j->h_stats[2 * ncols] != 0;
  job_put(j);
  return 0;
}

// pgpq_abort ends a job without decoding it.
void pgpq_abort(void* jh) {
  pgpq_job* j = (pgpq_job*)jh;
  if (cudaStreamSynchronize(j->stream) != cudaSuccess) { job_destroy(j); return; }
  job_put(j);
}

// pgpq_bench_kernels measures the kernels alone: the chunk is uploaded once, then walk and
// decode run iters times; *ms is the mean time of one pass (CUDA events).
int pgpq_bench_kernels(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows, int iters,
                       float* ms, char* err, int errlen) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  cudaError_t e = cudaSuccess;
  pgpq_job* j = job_get(d, &e);
  if (!j) { set_err(err, errlen, "bench: new stream", e); return -1; }
  e = upload(j, data, nbytes, starts, rows);
  if (e == cudaSuccess) e = walk(j);
  if (e == cudaSuccess) e = cudaMemcpyAsync(j->h_stats, j->d_stats, sizeof(unsigned long long) * (2 * d->ncols + 1), cudaMemcpyDeviceToHost, j->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(j->stream);
  if (e == cudaSuccess) e = plan(j);
  if (e == cudaSuccess) e = decode(j);  // warm-up
  if (e == cudaSuccess) e = cudaEventRecord(j->ev0, j->stream);
  for (int i = 0; i < iters && e == cudaSuccess; i++) {
    e = walk(j);
    if (e == cudaSuccess) e = decode(j);
  }
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
