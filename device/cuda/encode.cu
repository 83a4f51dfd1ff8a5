// encode.cu: Parquet data pages of fixed-width columns encoded on the GPU, the first piece of
// the GPU writer. Built into libpgparquet_cuda.so with pgcopy.cu and nvcomp.cu.
//
// pgpq_enc_run encodes columns (Arrow layout: n values of width bytes, and an Arrow validity
// bitmap or none) into pages of page_rows rows, exactly as the CPU twin pqfile.PlainPages
// does: per page, for a nullable column the definition levels as one bit-packed run of the
// RLE/bit-packed hybrid (bit width 1) after a 4-byte little-endian length, then the non-NULL
// values PLAIN (integers little-endian, int16 widened to INT32; decimal128 big-endian in the
// FIXED_LEN_BYTE_ARRAY size of its precision); and per page the NULL count, and the min and
// max of the non-NULL values (NaN left out; a zero min is -0.0 and a zero max +0.0, as
// parquet-mr writes them; decimals compared as signed integers). One thread block encodes one
// page: a block-wide scan places the non-NULL values, block-wide reductions give the
// statistics. An encoder (pgpq_enc_open) owns a stream and device buffers that only grow.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PGPQ_ENC_THREADS 256

namespace {

__device__ __forceinline__ bool is_valid(const uint8_t* valid, int64_t row) {
  return valid == nullptr || (valid[row >> 3] >> (row & 7)) & 1;
}

// varint_len is the length of v as an unsigned LEB128 varint.
__host__ __device__ __forceinline__ int varint_len(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

struct MinOp {
  template <typename T>
  __device__ __forceinline__ T operator()(const T& a, const T& b) const { return b < a ? b : a; }
};
struct MaxOp {
  template <typename T>
  __device__ __forceinline__ T operator()(const T& a, const T& b) const { return a < b ? b : a; }
};

// load reads value row as the statistics see it: integers sign-extended, floats widened.
template <bool FLOAT>
__device__ __forceinline__ double load_f(const uint8_t* values, int64_t row, int width) {
  if (width == 4) {
    float f;
    memcpy(&f, values + row * 4, 4);
    return (double)f;
  }
  double d;
  memcpy(&d, values + row * 8, 8);
  return d;
}
__device__ __forceinline__ int64_t load_i(const uint8_t* values, int64_t row, int width) {
  if (width == 2) {
    int16_t v;
    memcpy(&v, values + row * 2, 2);
    return (int64_t)v;
  }
  if (width == 4) {
    int32_t v;
    memcpy(&v, values + row * 4, 4);
    return (int64_t)v;
  }
  int64_t v;
  memcpy(&v, values + row * 8, 8);
  return v;
}

// Value kinds of encode_plain.
enum { KIND_INT = 0, KIND_FLOAT = 1, KIND_DECIMAL = 2 };

// dec128 is a decimal128's unscaled value, compared as a signed 128-bit integer.
struct dec128 {
  int64_t hi;
  uint64_t lo;
};
__device__ __forceinline__ bool dec_less(const dec128& a, const dec128& b) {
  return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}
struct DecMin {
  __device__ __forceinline__ dec128 operator()(const dec128& a, const dec128& b) const { return dec_less(b, a) ? b : a; }
};
struct DecMax {
  __device__ __forceinline__ dec128 operator()(const dec128& a, const dec128& b) const { return dec_less(a, b) ? b : a; }
};

// put_decimal writes v's last out_width bytes big-endian (Parquet's FIXED_LEN_BYTE_ARRAY
// decimal, as arrow-go writes it) and says whether v fits in them (two's complement).
__device__ __forceinline__ bool put_decimal(uint8_t* dst, dec128 v, int out_width) {
  uint8_t le[16];
  memcpy(le, &v.lo, 8);
  memcpy(le + 8, &v.hi, 8);
  for (int k = 0; k < out_width; k++) dst[k] = le[out_width - 1 - k];
  const uint8_t ext = (le[out_width - 1] & 0x80) ? 0xff : 0;
  bool fits = true;
  for (int k = out_width; k < 16; k++) fits = fits && le[k] == ext;
  return fits;
}

// encode_plain: one block per page (see the top of this file). in_width is Arrow's value
// width; the PLAIN width is 4 for int16 (widened), out_width for decimals (FIXED_LEN_BYTE_ARRAY
// of the precision's size), else in_width. mins and maxs hold 16 bytes per page; has[page] is 1
// when the page has a min and max, 2 when a decimal does not fit in out_width bytes.
template <int KIND>
__global__ void encode_plain(const uint8_t* values, const uint8_t* valid, int64_t n, int in_width, int out_width,
                             int nullable, int64_t page_rows, uint8_t* out, int64_t page_cap, int64_t* sizes, uint8_t* mins,
                             uint8_t* maxs, int64_t* nulls, uint8_t* has) {
  typedef cub::BlockScan<int, PGPQ_ENC_THREADS> Scan;
  typedef cub::BlockReduce<int64_t, PGPQ_ENC_THREADS> ReduceI;
  typedef cub::BlockReduce<double, PGPQ_ENC_THREADS> ReduceF;
  typedef cub::BlockReduce<dec128, PGPQ_ENC_THREADS> ReduceD;
  __shared__ union {
    typename Scan::TempStorage scan;
    typename ReduceI::TempStorage ri;
    typename ReduceF::TempStorage rf;
    typename ReduceD::TempStorage rd;
  } tmp;
  __shared__ int64_t base;

  const int width = KIND == KIND_DECIMAL ? out_width : (in_width == 2 ? 4 : in_width);
  const int64_t page = blockIdx.x;
  const int64_t start = page * page_rows;
  const int64_t end = min(start + page_rows, n);
  const int64_t rows = end > start ? end - start : 0;
  uint8_t* dst = out + page * page_cap;
  int64_t head = 0;
  if (nullable) {
    // Levels: length, varint header, then one byte per group of 8 rows.
    const int64_t groups = (rows + 7) / 8;
    const uint64_t hdr = ((uint64_t)groups << 1) | 1;
    const int hlen = varint_len(hdr);
    if (threadIdx.x == 0) {
      uint32_t len = (uint32_t)(hlen + groups);
      memcpy(dst, &len, 4);
      uint64_t v = hdr;
      for (int i = 0; i < hlen; i++) {
        dst[4 + i] = (uint8_t)((v & 0x7f) | (i + 1 < hlen ? 0x80 : 0));
        v >>= 7;
      }
    }
    for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
      uint8_t b = 0;
      for (int k = 0; k < 8; k++) {
        const int64_t r = start + g * 8 + k;
        if (r < end && is_valid(valid, r)) b |= (uint8_t)(1 << k);
      }
      dst[4 + hlen + g] = b;
    }
    head = 4 + hlen + groups;
  }
  if (threadIdx.x == 0) base = 0;
  __syncthreads();

  int64_t my_nulls = 0, my_bad = 0;
  bool my_has = false;
  int64_t imin = INT64_MAX, imax = INT64_MIN;
  double fmin = INFINITY, fmax = -INFINITY;
  dec128 dmin = {INT64_MAX, UINT64_MAX}, dmax = {INT64_MIN, 0};
  for (int64_t tile = start; tile < end; tile += blockDim.x) {
    const int64_t r = tile + threadIdx.x;
    const int flag = r < end && is_valid(valid, r) ? 1 : 0;
    if (r < end && !flag) my_nulls++;
    int pos, total;
    Scan(tmp.scan).ExclusiveSum(flag, pos, total);
    if (flag) {
      uint8_t* at = dst + head + (base + pos) * width;
      if (KIND == KIND_DECIMAL) {
        dec128 v;
        memcpy(&v.lo, values + r * 16, 8);
        memcpy(&v.hi, values + r * 16 + 8, 8);
        if (!put_decimal(at, v, out_width)) my_bad++;
        if (dec_less(v, dmin)) dmin = v;
        if (dec_less(dmax, v)) dmax = v;
        my_has = true;
      } else if (KIND == KIND_FLOAT) {
        memcpy(at, values + r * width, width);
        const double v = load_f<true>(values, r, width);
        if (!isnan(v)) {
          fmin = fmin < v ? fmin : v;
          fmax = fmax > v ? fmax : v;
          my_has = true;
        }
      } else {
        const int64_t v = load_i(values, r, in_width);
        if (in_width == 2) {
          const int32_t w = (int32_t)v;
          memcpy(at, &w, 4);
        } else {
          memcpy(at, values + r * width, width);
        }
        imin = imin < v ? imin : v;
        imax = imax > v ? imax : v;
        my_has = true;
      }
    }
    __syncthreads();
    if (threadIdx.x == 0) base += total;
    __syncthreads();
  }
  const int64_t page_nulls = ReduceI(tmp.ri).Sum(my_nulls);
  __syncthreads();
  const int64_t any = ReduceI(tmp.ri).Sum(my_has ? 1 : 0);
  __syncthreads();
  const int64_t bad = ReduceI(tmp.ri).Sum(my_bad);
  __syncthreads();
  uint8_t* mn = mins + page * 16;
  uint8_t* mx = maxs + page * 16;
  if (KIND == KIND_DECIMAL) {
    dec128 lo = ReduceD(tmp.rd).Reduce(dmin, DecMin());
    __syncthreads();
    dec128 hi = ReduceD(tmp.rd).Reduce(dmax, DecMax());
    if (threadIdx.x == 0 && any > 0) {
      put_decimal(mn, lo, out_width);
      put_decimal(mx, hi, out_width);
    }
  } else if (KIND == KIND_FLOAT) {
    double lo = ReduceF(tmp.rf).Reduce(fmin, MinOp());
    __syncthreads();
    double hi = ReduceF(tmp.rf).Reduce(fmax, MaxOp());
    if (threadIdx.x == 0) {
      if (lo == 0) lo = -0.0;
      if (hi == 0) hi = 0.0;
      if (width == 4) {
        float l = (float)lo, h = (float)hi;
        memcpy(mn, &l, 4);
        memcpy(mx, &h, 4);
      } else {
        memcpy(mn, &lo, 8);
        memcpy(mx, &hi, 8);
      }
    }
  } else {
    int64_t lo = ReduceI(tmp.ri).Reduce(imin, MinOp());
    __syncthreads();
    int64_t hi = ReduceI(tmp.ri).Reduce(imax, MaxOp());
    if (threadIdx.x == 0) {
      if (width == 4) {
        int32_t l = (int32_t)lo, h = (int32_t)hi;
        memcpy(mn, &l, 4);
        memcpy(mx, &h, 4);
      } else {
        memcpy(mn, &lo, 8);
        memcpy(mx, &hi, 8);
      }
    }
  }
  if (threadIdx.x == 0) {
    sizes[page] = head + base * width;
    nulls[page] = page_nulls;
    has[page] = bad > 0 ? 2 : (any > 0 ? 1 : 0);
  }
}

// ---- Distinct values of string columns (pgpq_uniq_run) ----
//
// Rows are grouped by a 64-bit hash of their bytes: hash, radix-sort (hash, row) pairs (stable,
// so each group's first row is its smallest), mark group heads, scan them into group numbers;
// each row is then compared byte for byte with its group's first row, so two different values
// that share a hash are found (the column's result is then refused), never merged.

#define PGPQ_UNIQ_NULL 0xffffffffffffffffULL

__device__ __forceinline__ uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

__global__ void uniq_hash(const int32_t* offsets, const uint8_t* data, const uint8_t* valid, int64_t n, int weak,
                          uint64_t* keys, int32_t* rows) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  rows[i] = (int32_t)i;
  if (!is_valid(valid, i)) {
    keys[i] = PGPQ_UNIQ_NULL;
    return;
  }
  const uint8_t* v = data + offsets[i];
  const int64_t len = offsets[i + 1] - offsets[i];
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
  if (weak) {
    h = (uint64_t)len;  // tests: every value of a length collides
  } else {
    int64_t k = 0;
    for (; k + 8 <= len; k += 8) {
      uint64_t w;
      memcpy(&w, v + k, 8);
      h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t w = 0;
    for (int64_t j = k; j < len; j++) w |= (uint64_t)v[j] << (8 * (j - k));
    h = mix64(h ^ w ^ ((uint64_t)(len - k) << 56));
  }
  keys[i] = h == PGPQ_UNIQ_NULL ? h - 1 : h;
}

__global__ void uniq_heads(const uint64_t* keys, int64_t n, int32_t* heads) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  heads[i] = keys[i] != PGPQ_UNIQ_NULL && (i == 0 || keys[i] != keys[i - 1]) ? 1 : 0;
}

// uniq_firsts: the first row of each group (group = inclusive scan - 1 at its head).
__global__ void uniq_firsts(const int32_t* heads, const int32_t* incl, const int32_t* rows, int64_t n, int32_t* firsts) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n || !heads[i]) return;
  firsts[incl[i] - 1] = rows[i];
}

// uniq_assign: each row's group (-1 for NULL), and whether its bytes differ from its group's
// first row's.
__global__ void uniq_assign(const uint64_t* keys, const int32_t* incl, const int32_t* rows, const int32_t* firsts,
                            const int32_t* offsets, const uint8_t* data, int64_t n, int32_t* ids, int32_t* collided) {
  const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int32_t row = rows[i];
  if (keys[i] == PGPQ_UNIQ_NULL) {
    ids[row] = -1;
    return;
  }
  const int32_t g = incl[i] - 1;
  ids[row] = g;
  const int32_t f = firsts[g];
  if (f == row) return;
  const int64_t la = offsets[row + 1] - offsets[row], lb = offsets[f + 1] - offsets[f];
  bool same = la == lb;
  const uint8_t* a = data + offsets[row];
  const uint8_t* b = data + offsets[f];
  for (int64_t k = 0; same && k < la; k++) same = a[k] == b[k];
  if (!same) *collided = 1;
}

// Faults to inject, for tests of the Go side's fallback (pgpq_inject_encode_faults): the next
// this many pgpq_enc_run / pgpq_uniq_run calls fail as a CUDA error would, after their work was
// queued. Test-only process state.
int g_fail_enc = 0, g_fail_uniq = 0;

bool take_fault(int* n) {
  int v = __atomic_load_n(n, __ATOMIC_SEQ_CST);
  while (v > 0) {
    if (__atomic_compare_exchange_n(n, &v, v - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return true;
  }
  return false;
}

int fail(char* err, int errlen, const char* what, cudaError_t e) {
  snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
  return -1;
}

}  // namespace

extern "C" {

// pgpq_enc_col is one column of a pgpq_enc_run call: n values of width bytes as Arrow holds
// them (kind 0, integers: 2, 4 or 8 bytes, int16 written as INT32; kind 1, floats: 4 or 8;
// kind 2, decimal128: 16, written as FIXED_LEN_BYTE_ARRAY of out_width bytes, 1 to 16), with an
// Arrow validity bitmap or none, and where its pages go. Host pointers; out holds pages *
// page_cap bytes, mins and maxs 16 bytes per page, sizes and nulls one int64 and has one byte
// per page (1: the page has a min and max; 2: a decimal does not fit in out_width bytes), where
// pages = max(1, ceil(n / page_rows)) and page_cap is at least pgpq_enc_page_cap's.
typedef struct {
  const uint8_t* values;
  const uint8_t* valid;
  int64_t n;
  int32_t width;
  int32_t kind;
  int32_t nullable;
  int32_t out_width;
  int64_t page_rows;
  uint8_t* out;
  int64_t page_cap;
  int64_t* sizes;
  uint8_t* mins;
  uint8_t* maxs;
  int64_t* nulls;
  uint8_t* has;
} pgpq_enc_col;

}  // extern "C"

namespace {

int64_t plain_width(int32_t kind, int32_t width, int32_t out_width) {
  return kind == 2 ? out_width : (width == 2 ? 4 : width);
}

int64_t page_cap_of(int32_t kind, int32_t width, int32_t out_width, int64_t page_rows) {
  return 4 + 10 + (page_rows + 7) / 8 + page_rows * plain_width(kind, width, out_width);
}

int64_t pages_of(int64_t n, int64_t page_rows) { return n == 0 ? 1 : (n + page_rows - 1) / page_rows; }

// An encoder owns one CUDA stream and device buffers that only grow: calls on different
// encoders run concurrently, calls on one encoder must not overlap.
struct encoder {
  cudaStream_t stream = nullptr;
  uint8_t* buf = nullptr;
  size_t cap = 0;
  uint8_t* ubuf = nullptr;  // pgpq_uniq_run's device memory, grown apart from buf
  size_t ucap = 0;
  cudaEvent_t t0 = nullptr, t1 = nullptr;
};

size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

int check_col(const pgpq_enc_col* c, char* err, int errlen) {
  bool ok_width = false;
  switch (c->kind) {
    case 0:
      ok_width = c->width == 2 || c->width == 4 || c->width == 8;
      break;
    case 1:
      ok_width = c->width == 4 || c->width == 8;
      break;
    case 2:
      ok_width = c->width == 16 && c->out_width >= 1 && c->out_width <= 16;
      break;
  }
  if (!ok_width || c->page_rows < 1 || c->n < 0 || c->page_cap < page_cap_of(c->kind, c->width, c->out_width, c->page_rows) ||
      (c->n > 0 && c->values == nullptr)) {
    snprintf(err, errlen, "encode: bad arguments (kind %d, width %d, out width %d, %lld rows per page, page capacity %lld)",
             c->kind, c->width, c->out_width, (long long)c->page_rows, (long long)c->page_cap);
    return -1;
  }
  return 0;
}

}  // namespace

extern "C" {

int64_t pgpq_enc_page_cap(int32_t kind, int32_t width, int32_t out_width, int64_t page_rows) {
  return page_cap_of(kind, width, out_width, page_rows);
}

// pgpq_enc_open makes an encoder (its stream and, lazily, its device memory). NULL with err
// set on failure.
void* pgpq_enc_open(char* err, int errlen) {
  encoder* e = new encoder();
  cudaError_t c;
  if ((c = cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking)) != cudaSuccess ||
      (c = cudaEventCreate(&e->t0)) != cudaSuccess || (c = cudaEventCreate(&e->t1)) != cudaSuccess) {
    fail(err, errlen, "encode: create a stream", c);
    if (e->stream) cudaStreamDestroy(e->stream);
    delete e;
    return nullptr;
  }
  return e;
}

void pgpq_enc_close(void* h) {
  encoder* e = (encoder*)h;
  if (!e) return;
  cudaStreamSynchronize(e->stream);
  cudaFree(e->buf);
  cudaFree(e->ubuf);
  cudaEventDestroy(e->t0);
  cudaEventDestroy(e->t1);
  cudaStreamDestroy(e->stream);
  delete e;
}

// pgpq_enc_run encodes ncols columns (see pgpq_enc_col and the top of this file) on the
// encoder's stream: every column's copies in, kernels and copies out are queued, then the
// call waits for the stream once. Host buffers in pinned memory make the copies asynchronous;
// pageable ones work too. kernel_ms (when not NULL) gets the kernels' time, copies included
// from the first kernel on. Returns 0, or -1 with err set (the encoder stays usable).
int pgpq_enc_run(void* h, const pgpq_enc_col* cols, int ncols, float* kernel_ms, char* err, int errlen) {
  encoder* e = (encoder*)h;
  size_t need = 0;
  for (int i = 0; i < ncols; i++) {
    const pgpq_enc_col* c = &cols[i];
    if (check_col(c, err, errlen) != 0) return -1;
    const int64_t pages = pages_of(c->n, c->page_rows);
    need += align256((size_t)(c->n > 0 ? c->n : 1) * c->width) + align256((size_t)(c->n + 7) / 8 + 1) +
            align256((size_t)pages * c->page_cap) + 3 * align256((size_t)pages * 8) + 2 * align256((size_t)pages * 16);
  }
  cudaError_t c;
  if (need > e->cap) {
    cudaStreamSynchronize(e->stream);
    cudaFree(e->buf);
    e->buf = nullptr;
    e->cap = 0;
    size_t cap = need + need / 4;
    if ((c = cudaMalloc(&e->buf, cap)) != cudaSuccess) {
      cudaGetLastError();
      return fail(err, errlen, "encode: allocate device memory", c);
    }
    e->cap = cap;
  }
  uint8_t* p = e->buf;
  cudaEventRecord(e->t0, e->stream);
  for (int i = 0; i < ncols; i++) {
    const pgpq_enc_col* col = &cols[i];
    const int64_t pages = pages_of(col->n, col->page_rows);
    uint8_t* d_values = p;
    p += align256((size_t)(col->n > 0 ? col->n : 1) * col->width);
    uint8_t* d_valid = col->valid ? p : nullptr;
    p += align256((size_t)(col->n + 7) / 8 + 1);
    uint8_t* d_out = p;
    p += align256((size_t)pages * col->page_cap);
    int64_t* d_sizes = (int64_t*)p;
    p += align256((size_t)pages * 8);
    int64_t* d_nulls = (int64_t*)p;
    p += align256((size_t)pages * 8);
    uint8_t* d_mins = p;
    p += align256((size_t)pages * 16);
    uint8_t* d_maxs = p;
    p += align256((size_t)pages * 16);
    uint8_t* d_has = p;
    p += align256((size_t)pages * 8);
    if ((col->n > 0 && (c = cudaMemcpyAsync(d_values, col->values, (size_t)col->n * col->width, cudaMemcpyHostToDevice,
                                            e->stream)) != cudaSuccess) ||
        (col->valid && col->n > 0 &&
         (c = cudaMemcpyAsync(d_valid, col->valid, (size_t)(col->n + 7) / 8, cudaMemcpyHostToDevice, e->stream)) !=
             cudaSuccess)) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "encode: copy a column to the device", c);
    }
#define PGPQ_ENC_LAUNCH(K)                                                                                             \
  encode_plain<K><<<(unsigned)pages, PGPQ_ENC_THREADS, 0, e->stream>>>(                                                \
      d_values, d_valid, col->n, col->width, col->out_width, col->nullable, col->page_rows, d_out, col->page_cap, d_sizes, \
      d_mins, d_maxs, d_nulls, d_has)
    switch (col->kind) {
      case KIND_FLOAT:
        PGPQ_ENC_LAUNCH(KIND_FLOAT);
        break;
      case KIND_DECIMAL:
        PGPQ_ENC_LAUNCH(KIND_DECIMAL);
        break;
      default:
        PGPQ_ENC_LAUNCH(KIND_INT);
    }
#undef PGPQ_ENC_LAUNCH
    if ((c = cudaGetLastError()) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "encode: run the kernel", c);
    }
    if ((c = cudaMemcpyAsync(col->out, d_out, (size_t)pages * col->page_cap, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->sizes, d_sizes, pages * 8, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->mins, d_mins, pages * 16, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->maxs, d_maxs, pages * 16, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->nulls, d_nulls, pages * 8, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->has, d_has, pages, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "encode: copy the pages back", c);
    }
  }
  cudaEventRecord(e->t1, e->stream);
  if ((c = cudaStreamSynchronize(e->stream)) != cudaSuccess) return fail(err, errlen, "encode: wait for the stream", c);
  if (take_fault(&g_fail_enc)) return fail(err, errlen, "encode: injected fault", cudaErrorLaunchFailure);
  if (kernel_ms) cudaEventElapsedTime(kernel_ms, e->t0, e->t1);
  return 0;
}

// pgpq_encode_plain encodes one column in a call of its own (an encoder made and dropped):
// pgpq_enc_run's contract for one pgpq_enc_col with these fields.
int pgpq_encode_plain(const uint8_t* values, const uint8_t* valid, int64_t n, int32_t width, int32_t is_float,
                      int32_t nullable, int64_t page_rows, uint8_t* out, int64_t page_cap, int64_t* sizes, uint8_t* mins,
                      uint8_t* maxs, int64_t* nulls, uint8_t* has, float* kernel_ms, char* err, int errlen) {
  pgpq_enc_col c = {values, valid, n, width, is_float ? 1 : 0, nullable, 0, page_rows, out, page_cap, sizes, mins, maxs, nulls, has};
  void* h = pgpq_enc_open(err, errlen);
  if (!h) return -1;
  int rc = pgpq_enc_run(h, &c, 1, kernel_ms, err, errlen);
  pgpq_enc_close(h);
  return rc;
}

}  // extern "C"

extern "C" {

// pgpq_uniq_col is one string (or binary) column of a pgpq_uniq_run call, in host memory:
// offsets (n + 1 Arrow int32 offsets into data, data[offsets[0]] the first byte copied: the
// caller passes data so that offsets index it directly), data (offsets[n] bytes), valid (an
// Arrow bitmap starting at bit 0, or NULL). Out: ids (n: each row's group, numbered in the
// device's order; -1 for NULL), firsts (n: the first row of each group), groups (how many),
// collided (1: two different values shared a hash; ids and firsts then mean nothing).
typedef struct {
  const int32_t* offsets;
  const uint8_t* data;
  const uint8_t* valid;
  int64_t n;
  int32_t* ids;
  int32_t* firsts;
  int64_t* groups;
  int32_t* collided;
} pgpq_uniq_col;

// pgpq_uniq_run groups the rows of ncols string columns by value on the encoder's stream (see
// "Distinct values" above), and waits for the stream once. weak (tests) makes every value of
// one length share a hash. Returns 0, or -1 with err set (the encoder stays usable).
int pgpq_uniq_run(void* h, const pgpq_uniq_col* cols, int ncols, int weak, char* err, int errlen) {
  encoder* e = (encoder*)h;
  // Sizes: per column keys in/out (8 B), rows in/out, heads, incl, firsts, ids (4 B each),
  // offsets, data, valid, the sort's and the scan's scratch, and a flag.
  size_t need = 0;
  for (int c = 0; c < ncols; c++) {
    const pgpq_uniq_col* col = &cols[c];
    const int64_t n = col->n;
    if (n < 0 || n > 0x7fffffff || (n > 0 && (!col->offsets || !col->data && col->offsets[n] > 0))) {
      snprintf(err, errlen, "uniques: bad arguments (%lld rows)", (long long)n);
      return -1;
    }
    size_t sort_tmp = 0, scan_tmp = 0;
    cub::DeviceRadixSort::SortPairs(nullptr, sort_tmp, (uint64_t*)nullptr, (uint64_t*)nullptr, (int32_t*)nullptr,
                                    (int32_t*)nullptr, (int)n);
    cub::DeviceScan::InclusiveSum(nullptr, scan_tmp, (int32_t*)nullptr, (int32_t*)nullptr, (int)n);
    const size_t m = (size_t)(n > 0 ? n : 1);
    need += 2 * align256(m * 8) + 6 * align256(m * 4) + align256((m + 1) * 4) +
            align256((size_t)(n > 0 ? col->offsets[n] : 0) + 1) + align256(m / 8 + 1) + align256(sort_tmp > scan_tmp ? sort_tmp : scan_tmp) +
            256;
  }
  cudaError_t c;
  if (need > e->ucap) {
    cudaStreamSynchronize(e->stream);
    cudaFree(e->ubuf);
    e->ubuf = nullptr;
    e->ucap = 0;
    const size_t cap = need + need / 4;
    if ((c = cudaMalloc(&e->ubuf, cap)) != cudaSuccess) {
      cudaGetLastError();
      return fail(err, errlen, "uniques: allocate device memory", c);
    }
    e->ucap = cap;
  }
  uint8_t* p = e->ubuf;
  for (int k = 0; k < ncols; k++) {
    const pgpq_uniq_col* col = &cols[k];
    const int64_t n = col->n;
    *col->groups = 0;
    *col->collided = 0;
    if (n == 0) continue;
    const size_t m = (size_t)n;
    const size_t bytes = (size_t)col->offsets[n];
    size_t sort_tmp = 0, scan_tmp = 0;
    cub::DeviceRadixSort::SortPairs(nullptr, sort_tmp, (uint64_t*)nullptr, (uint64_t*)nullptr, (int32_t*)nullptr,
                                    (int32_t*)nullptr, (int)n);
    cub::DeviceScan::InclusiveSum(nullptr, scan_tmp, (int32_t*)nullptr, (int32_t*)nullptr, (int)n);
    const size_t tmp_bytes = sort_tmp > scan_tmp ? sort_tmp : scan_tmp;
    uint64_t* keys = (uint64_t*)p;
    p += align256(m * 8);
    uint64_t* keys2 = (uint64_t*)p;
    p += align256(m * 8);
    int32_t* rows = (int32_t*)p;
    p += align256(m * 4);
    int32_t* rows2 = (int32_t*)p;
    p += align256(m * 4);
    int32_t* heads = (int32_t*)p;
    p += align256(m * 4);
    int32_t* incl = (int32_t*)p;
    p += align256(m * 4);
    int32_t* firsts = (int32_t*)p;
    p += align256(m * 4);
    int32_t* ids = (int32_t*)p;
    p += align256(m * 4);
    int32_t* offs = (int32_t*)p;
    p += align256((m + 1) * 4);
    uint8_t* data = p;
    p += align256(bytes + 1);
    uint8_t* valid = col->valid ? p : nullptr;
    p += align256(m / 8 + 1);
    void* tmp = p;
    p += align256(tmp_bytes);
    int32_t* flag = (int32_t*)p;
    p += 256;
    if ((c = cudaMemcpyAsync(offs, col->offsets, (m + 1) * 4, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess ||
        (bytes > 0 && (c = cudaMemcpyAsync(data, col->data, bytes, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) ||
        (valid && (c = cudaMemcpyAsync(valid, col->valid, (m + 7) / 8, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) ||
        (c = cudaMemsetAsync(flag, 0, 4, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: copy a column to the device", c);
    }
    const unsigned blocks = (unsigned)((n + 255) / 256);
    uniq_hash<<<blocks, 256, 0, e->stream>>>(offs, data, valid, n, weak, keys, rows);
    size_t t = tmp_bytes;
    if ((c = cub::DeviceRadixSort::SortPairs(tmp, t, keys, keys2, rows, rows2, (int)n, 0, 64, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: sort", c);
    }
    uniq_heads<<<blocks, 256, 0, e->stream>>>(keys2, n, heads);
    t = tmp_bytes;
    if ((c = cub::DeviceScan::InclusiveSum(tmp, t, heads, incl, (int)n, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: scan", c);
    }
    uniq_firsts<<<blocks, 256, 0, e->stream>>>(heads, incl, rows2, n, firsts);
    uniq_assign<<<blocks, 256, 0, e->stream>>>(keys2, incl, rows2, firsts, offs, data, n, ids, flag);
    if ((c = cudaGetLastError()) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: run the kernels", c);
    }
    // Groups: the inclusive scan's last value.
    int32_t* groups32 = (int32_t*)col->groups;  // the low half of the int64, zeroed above
    if ((c = cudaMemcpyAsync(col->ids, ids, m * 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->firsts, firsts, m * 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(groups32, incl + (n - 1), 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->collided, flag, 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: copy the groups back", c);
    }
  }
  if ((c = cudaStreamSynchronize(e->stream)) != cudaSuccess) return fail(err, errlen, "uniques: wait for the stream", c);
  if (take_fault(&g_fail_uniq)) return fail(err, errlen, "uniques: injected fault", cudaErrorLaunchFailure);
  return 0;
}

// pgpq_inject_encode_faults makes the next enc calls of pgpq_enc_run and uniq calls of
// pgpq_uniq_run fail as if the device had failed, once their results were copied back: for
// tests; optional in the ABI.
void pgpq_inject_encode_faults(int enc, int uniq) {
  __atomic_store_n(&g_fail_enc, enc, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_fail_uniq, uniq, __ATOMIC_SEQ_CST);
}

}  // extern "C"
