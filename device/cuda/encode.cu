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
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpq_abi.h"  // pgpq_enc_col, pgpq_uniq_col
#include "fuse.h"
#include "faults.h"  // take_fault
#include "callstats.h"  // after the CUDA headers: counts the runtime calls below

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

// encode_page: one block encodes one page (see the top of this file). in_width is Arrow's value
// width; the PLAIN width is 4 for int16 (widened), out_width for decimals (FIXED_LEN_BYTE_ARRAY
// of the precision's size), else in_width. mins and maxs hold 16 bytes per page; has[page] is 1
// when the page has a min and max, 2 when a decimal does not fit in out_width bytes. out NULL:
// only the statistics (and sizes) are written, for a required column whose PLAIN values are its
// Arrow values (pgpq_finish_fused).
template <int KIND>
__device__ void encode_page(const uint8_t* values, const uint8_t* valid, int64_t n, int in_width, int out_width,
                            int nullable, int64_t page_rows, uint8_t* out, int64_t page_cap, int64_t* sizes, uint8_t* mins,
                            uint8_t* maxs, int64_t* nulls, uint8_t* has, int64_t page) {
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
  const int64_t start = page * page_rows;
  const int64_t end = min(start + page_rows, n);
  const int64_t rows = end > start ? end - start : 0;
  uint8_t* dst = out ? out + page * page_cap : nullptr;
  int64_t head = 0;
  if (nullable && dst) {
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
      uint8_t spill[16];  // where a value goes without out: only its fit is checked
      uint8_t* at = dst ? dst + head + (base + pos) * width : spill;
      if (KIND == KIND_DECIMAL) {
        dec128 v;
        memcpy(&v.lo, values + r * 16, 8);
        memcpy(&v.hi, values + r * 16 + 8, 8);
        if (!put_decimal(at, v, out_width)) my_bad++;
        if (dec_less(v, dmin)) dmin = v;
        if (dec_less(dmax, v)) dmax = v;
        my_has = true;
      } else if (KIND == KIND_FLOAT) {
        if (dst) memcpy(at, values + r * width, width);
        const double v = load_f<true>(values, r, width);
        if (!isnan(v)) {
          fmin = fmin < v ? fmin : v;
          fmax = fmax > v ? fmax : v;
          my_has = true;
        }
      } else {
        const int64_t v = load_i(values, r, in_width);
        if (!dst) {
        } else if (in_width == 2) {
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

// enc_dev is one column of an encode_all launch: its pgpq_enc_col with the pointers as the
// device reads them (device memory, or pinned host memory mapped into the device's address
// space), and the first of its blocks (one per page) in the launch's grid.
struct enc_dev {
  pgpq_enc_col c;
  int64_t first_block;
};

// encode_all encodes every page of ncols columns in one launch: block b encodes page
// b - first_block of the last column whose first_block is at most b.
__global__ void encode_all(const enc_dev* cols, int ncols) {
  __shared__ int col;
  if (threadIdx.x == 0) {
    int lo = 0, hi = ncols - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (cols[mid].first_block <= (int64_t)blockIdx.x) lo = mid; else hi = mid - 1;
    }
    col = lo;
  }
  __syncthreads();
  const enc_dev e = cols[col];
  const pgpq_enc_col& c = e.c;
  const int64_t page = (int64_t)blockIdx.x - e.first_block;
#define PGPQ_ENC_PAGE(K)                                                                                          \
  encode_page<K>(c.values, c.valid, c.n, c.width, c.out_width, c.nullable, c.page_rows, c.out, c.page_cap, c.sizes, \
                 c.mins, c.maxs, c.nulls, c.has, page)
  switch (c.kind) {
    case KIND_FLOAT:
      PGPQ_ENC_PAGE(KIND_FLOAT);
      break;
    case KIND_DECIMAL:
      PGPQ_ENC_PAGE(KIND_DECIMAL);
      break;
    default:
      PGPQ_ENC_PAGE(KIND_INT);
  }
#undef PGPQ_ENC_PAGE
}

// ---- Distinct values of string columns (pgpq_uniq_first_run) ----
//
// Each row's value is hashed (64 bits) and its hash inserted into its column's open-addressing
// table (twice as many slots as rows, linear probing, atomicCAS), whose slot keeps the smallest
// row holding that hash (atomicMin); every row then reads its slot's smallest row, its group's
// first row, and is compared byte for byte with it, so two different values that share a hash
// are found (the column's result is then refused), never merged. Every column of a call goes
// through the same two launches.

#define PGPQ_UNIQ_EMPTY 0xffffffffffffffffULL

__device__ __forceinline__ uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// ucol is one column of a uniques launch, in device memory: its rows are the launch's rows
// row0 to row0 + n - 1; its table has tmask + 1 slots (keys, the smallest row of each); slot
// is each row's slot (-1 for NULL); first and collided are the results.
struct ucol {
  const int32_t* offsets;
  const uint8_t* data;
  const uint8_t* valid;
  int64_t n;
  int64_t row0;
  unsigned long long* keys;
  int32_t* mins;
  int32_t* slot;
  uint64_t tmask;
  int32_t* first;
  int32_t* collided;
  // Fused with decoding (uniq_number): each row's group (-1 for NULL), groups numbered in the
  // order of their first rows, the groups' first rows and their count; ids NULL: not numbered.
  int32_t* ids;
  int32_t* firsts;
  int32_t* ngroups;
};

// ucol_of finds the column of launch row r (the last whose row0 is at most r).
__device__ __forceinline__ int ucol_of(const ucol* cols, int ncols, int64_t r) {
  int lo = 0, hi = ncols - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (cols[mid].row0 <= r) lo = mid; else hi = mid - 1;
  }
  return lo;
}

__device__ __forceinline__ uint64_t value_hash(const uint8_t* v, int64_t len, int weak) {
  if (weak) return (uint64_t)len;  // tests: every value of a length collides
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    uint64_t w;
    memcpy(&w, v + k, 8);
    h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
  }
  uint64_t w = 0;
  for (int64_t j = k; j < len; j++) w |= (uint64_t)v[j] << (8 * (j - k));
  return mix64(h ^ w ^ ((uint64_t)(len - k) << 56));
}

__global__ void uniq_insert(const ucol* cols, int ncols, int64_t rows, int weak) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const ucol& c = cols[ucol_of(cols, ncols, r)];
  const int64_t i = r - c.row0;
  if (!is_valid(c.valid, i)) {
    c.slot[i] = -1;
    return;
  }
  uint64_t h = value_hash(c.data + c.offsets[i], c.offsets[i + 1] - c.offsets[i], weak);
  if (h == PGPQ_UNIQ_EMPTY) h--;
  uint64_t s = mix64(h) & c.tmask;
  for (;;) {
    const unsigned long long prev = atomicCAS(&c.keys[s], PGPQ_UNIQ_EMPTY, (unsigned long long)h);
    if (prev == PGPQ_UNIQ_EMPTY || prev == h) break;
    s = (s + 1) & c.tmask;
  }
  atomicMin(&c.mins[s], (int32_t)i);
  c.slot[i] = (int32_t)s;
}

__global__ void uniq_resolve(const ucol* cols, int ncols, int64_t rows) {
  const int64_t r = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const ucol& c = cols[ucol_of(cols, ncols, r)];
  const int64_t i = r - c.row0;
  const int32_t s = c.slot[i];
  if (s < 0) {
    c.first[i] = -1;
    return;
  }
  const int32_t f = c.mins[s];
  c.first[i] = f;
  if (f == i) return;
  const int64_t la = c.offsets[i + 1] - c.offsets[i], lb = c.offsets[f + 1] - c.offsets[f];
  bool same = la == lb;
  const uint8_t* x = c.data + c.offsets[i];
  const uint8_t* y = c.data + c.offsets[f];
  for (int64_t k = 0; same && k < la; k++) same = x[k] == y[k];
  if (!same) *c.collided = 1;
}

// uniq_number numbers the groups uniq_resolve found, one block per column (after it, on the
// same stream): a block-wide scan over the rows that are their own first row gives each group
// its number, in the order of the first rows, kept in slot (free once uniq_resolve is done);
// then every row takes its first row's number. This is device.groupsOf on the device.
__global__ void uniq_number(const ucol* cols) {
  typedef cub::BlockScan<int, PGPQ_ENC_THREADS> Scan;
  __shared__ typename Scan::TempStorage tmp;
  __shared__ int32_t base;
  const ucol& c = cols[blockIdx.x];
  if (c.ids == nullptr) return;
  if (threadIdx.x == 0) base = 0;
  __syncthreads();
  for (int64_t tile = 0; tile < c.n; tile += blockDim.x) {
    const int64_t i = tile + threadIdx.x;
    const int flag = i < c.n && c.first[i] == (int32_t)i ? 1 : 0;
    int pos, total;
    Scan(tmp).ExclusiveSum(flag, pos, total);
    if (flag) {
      c.slot[i] = base + pos;
      c.firsts[base + pos] = (int32_t)i;
    }
    __syncthreads();
    if (threadIdx.x == 0) base += total;
    __syncthreads();
  }
  for (int64_t i = threadIdx.x; i < c.n; i += blockDim.x) {
    const int32_t f = c.first[i];
    c.ids[i] = f < 0 ? -1 : c.slot[f];
  }
  if (threadIdx.x == 0) *c.ngroups = base;
}

// bdev is one string or binary column of a bytes_plain launch (device pointers): its values
// (n rows: offsets into data, validity or NULL) and where its results go.
struct bdev {
  const int32_t* offsets;
  const uint8_t* data;
  const uint8_t* valid;
  int64_t n;
  uint8_t* out;      // the non-NULL values PLAIN: 4-byte little-endian length, then the bytes
  int64_t* size;     // bytes written to out
  int32_t* minmax;   // the rows of the smallest and the largest value (byte-wise), -1: none
};

// bytes_less says whether string a is before string b byte-wise (unsigned bytes; a prefix
// first), as bytes.Compare orders them.
__device__ bool bytes_less(const uint8_t* a, int64_t la, const uint8_t* b, int64_t lb) {
  const int64_t m = la < lb ? la : lb;
  for (int64_t k = 0; k < m; k++)
    if (a[k] != b[k]) return a[k] < b[k];
  return la < lb;
}

// bytes_plain writes, one block per column, the PLAIN page fragment of the column's non-NULL
// values (pqfile.ByteColumn's bytes for them) and the rows of their min and max: a block-wide
// scan places each value; each thread keeps the smallest and largest of its rows, then a tree
// over the block's threads picks the column's.
__global__ void bytes_plain(const bdev* cols) {
  typedef cub::BlockScan<int64_t, PGPQ_ENC_THREADS> Scan;
  __shared__ typename Scan::TempStorage tmp;
  __shared__ int64_t base;
  __shared__ int32_t lo[PGPQ_ENC_THREADS], hi[PGPQ_ENC_THREADS];
  const bdev& c = cols[blockIdx.x];
  if (threadIdx.x == 0) base = 0;
  __syncthreads();
  int32_t mn = -1, mx = -1;
  for (int64_t tile = 0; tile < c.n; tile += blockDim.x) {
    const int64_t i = tile + threadIdx.x;
    const bool flag = i < c.n && is_valid(c.valid, i);
    const int64_t len = flag ? (int64_t)(c.offsets[i + 1] - c.offsets[i]) : 0;
    int64_t pos, total;
    Scan(tmp).ExclusiveSum(flag ? 4 + len : 0, pos, total);
    if (flag) {
      const uint8_t* v = c.data + c.offsets[i];
      uint8_t* d = c.out + base + pos;
      const uint32_t l = (uint32_t)len;
      d[0] = (uint8_t)l;
      d[1] = (uint8_t)(l >> 8);
      d[2] = (uint8_t)(l >> 16);
      d[3] = (uint8_t)(l >> 24);
      for (int64_t k = 0; k < len; k++) d[4 + k] = v[k];
      if (mn < 0 || bytes_less(v, len, c.data + c.offsets[mn], c.offsets[mn + 1] - c.offsets[mn])) mn = (int32_t)i;
      if (mx < 0 || bytes_less(c.data + c.offsets[mx], c.offsets[mx + 1] - c.offsets[mx], v, len)) mx = (int32_t)i;
    }
    __syncthreads();
    if (threadIdx.x == 0) base += total;
    __syncthreads();
  }
  lo[threadIdx.x] = mn;
  hi[threadIdx.x] = mx;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step >>= 1) {
    if (threadIdx.x < step) {
      const int32_t a = lo[threadIdx.x], b = lo[threadIdx.x + step];
      if (a < 0 || (b >= 0 && bytes_less(c.data + c.offsets[b], c.offsets[b + 1] - c.offsets[b], c.data + c.offsets[a],
                                        c.offsets[a + 1] - c.offsets[a])))
        lo[threadIdx.x] = b;
      const int32_t x = hi[threadIdx.x], y = hi[threadIdx.x + step];
      if (x < 0 || (y >= 0 && bytes_less(c.data + c.offsets[x], c.offsets[x + 1] - c.offsets[x], c.data + c.offsets[y],
                                        c.offsets[y + 1] - c.offsets[y])))
        hi[threadIdx.x] = y;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *c.size = base;
    c.minmax[0] = lo[0];
    c.minmax[1] = hi[0];
  }
}

// Faults to inject, for tests of the Go side's fallback (pgpq_inject_encode_faults): the next
// this many pgpq_enc_run / pgpq_uniq_first_run calls fail as a CUDA error would, after their work was
// queued. Test-only process state.
int g_fail_enc = 0, g_fail_uniq = 0;

int fail(char* err, int errlen, const char* what, cudaError_t e) {
  snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
  return -1;
}

}  // namespace


// pgpq_plain_width (fuse.h): pgpq_finish_fused sizes its fragments with it too.
int64_t pgpq_plain_width(int32_t kind, int32_t width, int32_t out_width) {
  return kind == 2 ? out_width : (width == 2 ? 4 : width);
}

namespace {

int64_t page_cap_of(int32_t kind, int32_t width, int32_t out_width, int64_t page_rows) {
  return 4 + 10 + (page_rows + 7) / 8 + page_rows * pgpq_plain_width(kind, width, out_width);
}

int64_t pages_of(int64_t n, int64_t page_rows) { return n == 0 ? 1 : (n + page_rows - 1) / page_rows; }

// An encoder owns one CUDA stream and device buffers that only grow: calls on different
// encoders run concurrently, calls on one encoder must not overlap.
struct encoder {
  cudaStream_t stream = nullptr;
  uint8_t* buf = nullptr;
  size_t cap = 0;
  uint8_t* ubuf = nullptr;  // pgpq_uniq_first_run's device memory, grown apart from buf
  size_t ucap = 0;
  void* udescs = nullptr;  // pinned: pgpq_uniq_first_run's column descriptions (ucol), udesc_cap bytes
  size_t udesc_cap = 0;
  cudaEvent_t t0 = nullptr, t1 = nullptr;
  void* descs = nullptr;  // pinned: pgpq_enc_run's column descriptions (enc_dev), desc_cap of them
  size_t desc_cap = 0;
};

size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

// page_need is the most bytes a page of c takes: pgpq_enc_page_cap's, less the definition
// levels' room for a required column (which has none), for a single page its rows' only.
int64_t page_need(const pgpq_enc_col* c) {
  const int64_t rows = c->n < c->page_rows ? c->n : c->page_rows;
  const int64_t values = rows * pgpq_plain_width(c->kind, c->width, c->out_width);
  return c->nullable ? 4 + 10 + (rows + 7) / 8 + values : values;
}

// mapped returns the device's address of p when p is pinned host memory mapped into the
// device's address space (cudaMallocHost's, with unified addressing), else NULL.
const void* mapped(const void* p) {
  if (!p) return nullptr;
  cudaPointerAttributes a;
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return a.type == cudaMemoryTypeHost ? a.devicePointer : nullptr;
}

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
  if (!ok_width || c->page_rows < 1 || c->n < 0 || c->page_cap < page_need(c) ||
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
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
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
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
  encoder* e = (encoder*)h;
  if (!e) return;
  cudaStreamSynchronize(e->stream);
  cudaFree(e->buf);
  cudaFree(e->ubuf);
  cudaFreeHost(e->descs);
  cudaFreeHost(e->udescs);
  cudaEventDestroy(e->t0);
  cudaEventDestroy(e->t1);
  cudaStreamDestroy(e->stream);
  delete e;
}

// pgpq_enc_run encodes ncols columns (see pgpq_enc_col and the top of this file) on the
// encoder's stream, every page of every column in one kernel launch, and waits for the stream
// once. Columns and pages are copied to and from device memory (from and into pinned memory,
// the decoder's outputs and the Go side's page buffers, at full speed); the columns'
// statistics come back in one copy when the caller laid them out together (the Go side does),
// apart from the pages. $PGPARQUET_GPU_ENC_IO=out has the kernel write outputs in pinned
// memory in place, through the device's mapping of it, and =mapped read pinned inputs in place
// too: fewer calls, but slower and no cheaper on the H200 (one block per page reads or writes
// across PCIe; lineorder, 2026-11-30), kept for measurements. kernel_ms (when not NULL) gets
// the time on the device from the first copy in to the last copy out. Returns 0, or -1 with
// err set (the encoder stays usable).
int pgpq_enc_run_span(void* h, const pgpq_enc_col* cols, int ncols, uint8_t* span_lo, int64_t span_len, float* kernel_ms,
                      char* err, int errlen);

int pgpq_enc_run(void* h, const pgpq_enc_col* cols, int ncols, float* kernel_ms, char* err, int errlen) {
  return pgpq_enc_run_span(h, cols, ncols, nullptr, 0, kernel_ms, err, errlen);
}

// pgpq_enc_run_span is pgpq_enc_run where the caller says that span_len bytes at span_lo are
// its own and hold the statistics (sizes, nulls, mins, maxs, has) of every column and nothing
// else of the call's: they then come back in one copy.
int pgpq_enc_run_span(void* h, const pgpq_enc_col* cols, int ncols, uint8_t* span_lo, int64_t span_len, float* kernel_ms,
                      char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_ENC_RUN);
  encoder* e = (encoder*)h;
  if (ncols <= 0) {
    if (kernel_ms) *kernel_ms = 0;
    return 0;
  }
  // 1: everything copied; 0: inputs copied, outputs in place; 2: everything in place.
  static const int io = [] {
    const char* v = getenv("PGPARQUET_GPU_ENC_IO");
    return v == nullptr ? 1 : strcmp(v, "out") == 0 ? 0 : strcmp(v, "mapped") == 0 ? 2 : 1;
  }();
  // Where each column's buffers are for the kernel: mapped host memory, or device memory the
  // call copies to (inputs) or from (outputs).
  struct where {
    const uint8_t *values, *valid;  // mapped, or NULL: staged
    bool outs;                      // every output mapped
    int64_t pages;
  };
  where* w = (where*)calloc((size_t)ncols, sizeof(where));
  if (!w) {
    snprintf(err, errlen, "encode: out of memory");
    return -1;
  }
  size_t need = align256(sizeof(enc_dev) * (size_t)ncols);
  int64_t blocks = 0;
  for (int i = 0; i < ncols; i++) {
    const pgpq_enc_col* c = &cols[i];
    if (check_col(c, err, errlen) != 0) {
      free(w);
      return -1;
    }
    const int64_t pages = pages_of(c->n, c->page_rows);
    w[i].pages = pages;
    blocks += pages;
    if (io == 2) {
      w[i].values = c->n > 0 ? (const uint8_t*)mapped(c->values) : nullptr;
      w[i].valid = c->valid && c->n > 0 ? (const uint8_t*)mapped(c->valid) : nullptr;
    }
    if (io != 1) {
      w[i].outs = mapped(c->out) && mapped(c->sizes) && mapped(c->mins) && mapped(c->maxs) && mapped(c->nulls) &&
                  mapped(c->has);
    }
    if (!w[i].values) need += align256((size_t)(c->n > 0 ? c->n : 1) * c->width);
    if (!w[i].valid) need += align256((size_t)(c->n + 7) / 8 + 1);
    if (!w[i].outs)
      need += align256((size_t)pages * c->page_cap) + 3 * align256((size_t)pages * 8) + 2 * align256((size_t)pages * 16);
  }
  // The statistics of the columns whose outputs are copied back: one copy of the caller's
  // span when they lie in it and it holds nothing else of the call's (no page).
  uint8_t *lo = nullptr, *hi = nullptr;
  for (int i = 0; i < ncols; i++) {
    if (w[i].outs) continue;
    const pgpq_enc_col* col = &cols[i];
    const int64_t pages = w[i].pages;
    uint8_t* ptrs[5] = {(uint8_t*)col->sizes, (uint8_t*)col->nulls, col->mins, col->maxs, col->has};
    const int64_t lens[5] = {pages * 8, pages * 8, pages * 16, pages * 16, pages};
    for (int k = 0; k < 5; k++) {
      if (!lo || ptrs[k] < lo) lo = ptrs[k];
      if (!hi || ptrs[k] + lens[k] > hi) hi = ptrs[k] + lens[k];
    }
  }
  bool span = lo != nullptr && span_lo != nullptr && lo >= span_lo && hi <= span_lo + span_len;
  for (int i = 0; span && i < ncols; i++) {
    const pgpq_enc_col* col = &cols[i];
    const int64_t pages = w[i].pages;
    if (!w[i].outs) {
      if (col->out < hi && col->out + pages * col->page_cap > lo) span = false;
      continue;
    }
    // A column written in place must not lie in the span, which the copy overwrites.
    const uint8_t* ptrs[6] = {col->out, (uint8_t*)col->sizes, (uint8_t*)col->nulls, col->mins, col->maxs, col->has};
    const int64_t lens[6] = {pages * col->page_cap, pages * 8, pages * 8, pages * 16, pages * 16, pages};
    for (int k = 0; k < 6; k++)
      if (ptrs[k] < hi && ptrs[k] + lens[k] > lo) span = false;
  }
  if (span) need += align256((size_t)(hi - lo));
  cudaError_t c;
  if (need > e->cap) {
    cudaStreamSynchronize(e->stream);
    cudaFree(e->buf);
    e->buf = nullptr;
    e->cap = 0;
    size_t cap = need + need / 4;
    if ((c = cudaMalloc(&e->buf, cap)) != cudaSuccess) {
      cudaGetLastError();
      free(w);
      return fail(err, errlen, "encode: allocate device memory", c);
    }
    e->cap = cap;
  }
  if ((size_t)ncols > e->desc_cap) {
    cudaStreamSynchronize(e->stream);
    cudaFreeHost(e->descs);
    e->descs = nullptr;
    e->desc_cap = 0;
    if ((c = cudaMallocHost(&e->descs, sizeof(enc_dev) * (size_t)ncols * 2)) != cudaSuccess) {
      cudaGetLastError();
      free(w);
      return fail(err, errlen, "encode: allocate pinned memory", c);
    }
    e->desc_cap = (size_t)ncols * 2;
  }
  enc_dev* descs = (enc_dev*)e->descs;
  enc_dev* d_descs = (enc_dev*)e->buf;
  uint8_t* p = e->buf + align256(sizeof(enc_dev) * (size_t)ncols);
  uint8_t* d_span = nullptr;  // the device's twin of the statistics' host span [lo, hi)
  if (span) {
    d_span = p;
    p += align256((size_t)(hi - lo));
  }
  cudaEventRecord(e->t0, e->stream);
  int64_t first = 0;
  for (int i = 0; i < ncols; i++) {
    const pgpq_enc_col* col = &cols[i];
    const int64_t pages = w[i].pages;
    enc_dev ed;
    ed.first_block = first;
    pgpq_enc_col& d = ed.c;
    d = *col;
    d.values = d.valid = nullptr;
    first += pages;
    d.values = w[i].values;
    if (!d.values) {
      uint8_t* dv = p;
      p += align256((size_t)(col->n > 0 ? col->n : 1) * col->width);
      if (col->n > 0 &&
          (c = cudaMemcpyAsync(dv, col->values, (size_t)col->n * col->width, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) {
        cudaStreamSynchronize(e->stream);
        free(w);
        return fail(err, errlen, "encode: copy a column to the device", c);
      }
      d.values = dv;
    }
    if (col->valid && col->n > 0) {
      d.valid = w[i].valid;
      if (!d.valid) {
        uint8_t* dv = p;
        p += align256((size_t)(col->n + 7) / 8 + 1);
        if ((c = cudaMemcpyAsync(dv, col->valid, (size_t)(col->n + 7) / 8, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) {
          cudaStreamSynchronize(e->stream);
          free(w);
          return fail(err, errlen, "encode: copy a column to the device", c);
        }
        d.valid = dv;
      }
    }
    if (w[i].outs) {
      d.out = (uint8_t*)mapped(col->out);
      d.sizes = (int64_t*)mapped(col->sizes);
      d.mins = (uint8_t*)mapped(col->mins);
      d.maxs = (uint8_t*)mapped(col->maxs);
      d.nulls = (int64_t*)mapped(col->nulls);
      d.has = (uint8_t*)mapped(col->has);
    } else {
      d.out = p;
      p += align256((size_t)pages * col->page_cap);
      if (span) {
        d.sizes = (int64_t*)(d_span + ((uint8_t*)col->sizes - lo));
        d.nulls = (int64_t*)(d_span + ((uint8_t*)col->nulls - lo));
        d.mins = d_span + (col->mins - lo);
        d.maxs = d_span + (col->maxs - lo);
        d.has = d_span + (col->has - lo);
      } else {
        d.sizes = (int64_t*)p;
        p += align256((size_t)pages * 8);
        d.nulls = (int64_t*)p;
        p += align256((size_t)pages * 8);
        d.mins = p;
        p += align256((size_t)pages * 16);
        d.maxs = p;
        p += align256((size_t)pages * 16);
        d.has = p;
        p += align256((size_t)pages * 8);
      }
    }
    descs[i] = ed;
  }
  if ((c = cudaMemcpyAsync(d_descs, descs, sizeof(enc_dev) * (size_t)ncols, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) {
    cudaStreamSynchronize(e->stream);
    free(w);
    return fail(err, errlen, "encode: copy the columns' descriptions to the device", c);
  }
  encode_all<<<(unsigned)blocks, PGPQ_ENC_THREADS, 0, e->stream>>>(d_descs, ncols);
  if ((c = cudaGetLastError()) != cudaSuccess) {
    cudaStreamSynchronize(e->stream);
    free(w);
    return fail(err, errlen, "encode: run the kernel", c);
  }
  for (int i = 0; i < ncols; i++) {
    if (w[i].outs) continue;
    const pgpq_enc_col* col = &cols[i];
    const pgpq_enc_col& d = descs[i].c;
    const int64_t pages = w[i].pages;
    if ((c = cudaMemcpyAsync(col->out, d.out, (size_t)pages * col->page_cap, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      free(w);
      return fail(err, errlen, "encode: copy the pages back", c);
    }
    if (span) continue;
    if ((c = cudaMemcpyAsync(col->sizes, d.sizes, pages * 8, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->mins, d.mins, pages * 16, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->maxs, d.maxs, pages * 16, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->nulls, d.nulls, pages * 8, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess ||
        (c = cudaMemcpyAsync(col->has, d.has, pages, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      free(w);
      return fail(err, errlen, "encode: copy the pages back", c);
    }
  }
  free(w);
  if (span && (c = cudaMemcpyAsync(lo, d_span, (size_t)(hi - lo), cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
    cudaStreamSynchronize(e->stream);
    return fail(err, errlen, "encode: copy the statistics back", c);
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

// pgpq_uniq_first_run finds, for each row of ncols string columns, the first row holding its
// value (see "Distinct values" above): every column's copies in, two launches for them all,
// the copies out, and one wait for the stream. weak (tests) makes every value of one length
// share a hash. Returns 0, or -1 with err set (the encoder stays usable).
int pgpq_uniq_first_run(void* h, const pgpq_uniq_col* cols, int ncols, int weak, char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_UNIQ);
  encoder* e = (encoder*)h;
  if (ncols <= 0) return 0;
  size_t need = align256(sizeof(ucol) * (size_t)ncols) + 256 * (size_t)ncols;
  int64_t rows = 0;
  for (int c = 0; c < ncols; c++) {
    const pgpq_uniq_col* col = &cols[c];
    const int64_t n = col->n;
    if (n < 0 || n > 0x7fffffff || (n > 0 && (!col->offsets || (!col->data && col->offsets[n] > 0))) || !col->first ||
        !col->collided) {
      snprintf(err, errlen, "uniques: bad arguments (%lld rows)", (long long)n);
      return -1;
    }
    const size_t m = (size_t)(n > 0 ? n : 1);
    size_t slots = 2;
    while (slots < 2 * m) slots <<= 1;
    need += align256((m + 1) * 4) + align256((size_t)(n > 0 ? col->offsets[n] : 0) + 1) + align256(m / 8 + 1) +
            align256(slots * 8) + align256(slots * 4) + 2 * align256(m * 4);
    rows += n;
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
  if ((size_t)ncols * sizeof(ucol) > e->udesc_cap) {
    cudaStreamSynchronize(e->stream);
    cudaFreeHost(e->udescs);
    e->udescs = nullptr;
    e->udesc_cap = 0;
    const size_t cap = (size_t)ncols * 2 * sizeof(ucol);
    if ((c = cudaMallocHost(&e->udescs, cap)) != cudaSuccess) {
      cudaGetLastError();
      return fail(err, errlen, "uniques: allocate pinned memory", c);
    }
    e->udesc_cap = cap;
  }
  ucol* descs = (ucol*)e->udescs;
  ucol* d_descs = (ucol*)e->ubuf;
  uint8_t* p = e->ubuf + align256(sizeof(ucol) * (size_t)ncols);
  // The tables first, one after the other, so that two memsets clear them all.
  uint8_t* tables = p;
  size_t key_bytes = 0, min_bytes = 0;
  for (int k = 0; k < ncols; k++) {
    const size_t m = (size_t)(cols[k].n > 0 ? cols[k].n : 1);
    size_t slots = 2;
    while (slots < 2 * m) slots <<= 1;
    key_bytes += align256(slots * 8);
    min_bytes += align256(slots * 4);
  }
  uint8_t* keys = tables;
  uint8_t* mins = tables + key_bytes;
  p = mins + min_bytes;
  if ((c = cudaMemsetAsync(keys, 0xff, key_bytes, e->stream)) != cudaSuccess ||
      (c = cudaMemsetAsync(mins, 0x7f, min_bytes, e->stream)) != cudaSuccess) {
    cudaStreamSynchronize(e->stream);
    return fail(err, errlen, "uniques: clear the tables", c);
  }
  int64_t row0 = 0;
  for (int k = 0; k < ncols; k++) {
    const pgpq_uniq_col* col = &cols[k];
    const int64_t n = col->n;
    const size_t m = (size_t)(n > 0 ? n : 1);
    const size_t bytes = (size_t)(n > 0 ? col->offsets[n] : 0);
    size_t slots = 2;
    while (slots < 2 * m) slots <<= 1;
    ucol d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.row0 = row0;
    row0 += n;
    d.keys = (unsigned long long*)keys;
    keys += align256(slots * 8);
    d.mins = (int32_t*)mins;
    mins += align256(slots * 4);
    d.tmask = slots - 1;
    d.offsets = (const int32_t*)p;
    p += align256((m + 1) * 4);
    d.data = p;
    p += align256(bytes + 1);
    d.valid = col->valid ? p : nullptr;
    p += align256(m / 8 + 1);
    d.slot = (int32_t*)p;
    p += align256(m * 4);
    d.first = (int32_t*)p;
    p += align256(m * 4);
    d.collided = (int32_t*)p;
    p += 256;
    descs[k] = d;
    if ((c = cudaMemsetAsync(d.collided, 0, 4, e->stream)) != cudaSuccess ||
        (n > 0 && (c = cudaMemcpyAsync((void*)d.offsets, col->offsets, (m + 1) * 4, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) ||
        (bytes > 0 && (c = cudaMemcpyAsync((void*)d.data, col->data, bytes, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) ||
        (n > 0 && col->valid &&
         (c = cudaMemcpyAsync((void*)d.valid, col->valid, (m + 7) / 8, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess)) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: copy a column to the device", c);
    }
  }
  if ((c = cudaMemcpyAsync(d_descs, descs, sizeof(ucol) * (size_t)ncols, cudaMemcpyHostToDevice, e->stream)) != cudaSuccess) {
    cudaStreamSynchronize(e->stream);
    return fail(err, errlen, "uniques: copy the columns' descriptions to the device", c);
  }
  if (rows > 0) {
    const unsigned blocks = (unsigned)((rows + 255) / 256);
    uniq_insert<<<blocks, 256, 0, e->stream>>>(d_descs, ncols, rows, weak);
    uniq_resolve<<<blocks, 256, 0, e->stream>>>(d_descs, ncols, rows);
    if ((c = cudaGetLastError()) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: run the kernels", c);
    }
  }
  for (int k = 0; k < ncols; k++) {
    const pgpq_uniq_col* col = &cols[k];
    const ucol& d = descs[k];
    if ((col->n > 0 && (c = cudaMemcpyAsync(col->first, d.first, (size_t)col->n * 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) ||
        (c = cudaMemcpyAsync(col->collided, d.collided, 4, cudaMemcpyDeviceToHost, e->stream)) != cudaSuccess) {
      cudaStreamSynchronize(e->stream);
      return fail(err, errlen, "uniques: copy the groups back", c);
    }
  }
  if ((c = cudaStreamSynchronize(e->stream)) != cudaSuccess) return fail(err, errlen, "uniques: wait for the stream", c);
  if (take_fault(&g_fail_uniq)) return fail(err, errlen, "uniques: injected fault", cudaErrorLaunchFailure);
  return 0;
}

// pgpq_inject_encode_faults makes the next enc calls of pgpq_enc_run and uniq calls of
// pgpq_uniq_first_run fail as if the device had failed, once their results were copied back: for
// tests; optional in the ABI.
void pgpq_inject_encode_faults(int enc, int uniq) {
  __atomic_store_n(&g_fail_enc, enc, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_fail_uniq, uniq, __ATOMIC_SEQ_CST);
}

}  // extern "C"

// ---- Fused with decoding (pgpq_finish_fused, pgcopy.cu; fuse.h) ----

size_t pgpq_fuse_enc_desc_size(void) { return sizeof(enc_dev); }
size_t pgpq_fuse_uniq_desc_size(void) { return sizeof(ucol); }

void pgpq_fuse_enc_desc(void* desc, const pgpq_enc_col* c, int64_t first_block) {
  enc_dev d;
  d.c = *c;
  d.first_block = first_block;
  memcpy(desc, &d, sizeof d);
}

void pgpq_fuse_uniq_desc(void* desc, const int32_t* offsets, const uint8_t* data, const uint8_t* valid, int64_t n,
                         int64_t row0, unsigned long long* keys, int32_t* mins, int32_t* slot, uint64_t tmask,
                         int32_t* first, int32_t* collided, int32_t* ids, int32_t* firsts, int32_t* ngroups) {
  ucol d;
  memset(&d, 0, sizeof d);
  d.offsets = offsets;
  d.data = data;
  d.valid = valid;
  d.n = n;
  d.row0 = row0;
  d.keys = keys;
  d.mins = mins;
  d.slot = slot;
  d.tmask = tmask;
  d.first = first;
  d.collided = collided;
  d.ids = ids;
  d.firsts = firsts;
  d.ngroups = ngroups;
  memcpy(desc, &d, sizeof d);
}

cudaError_t pgpq_fuse_launch_enc(const void* d_descs, int ncols, int64_t blocks, cudaStream_t s) {
  if (ncols <= 0 || blocks <= 0) return cudaSuccess;
  encode_all<<<(unsigned)blocks, PGPQ_ENC_THREADS, 0, s>>>((const enc_dev*)d_descs, ncols);
  return cudaGetLastError();
}

cudaError_t pgpq_fuse_launch_uniq(const void* d_descs, int ncols, int64_t rows, cudaStream_t s) {
  if (ncols <= 0 || rows <= 0) return cudaSuccess;
  const unsigned blocks = (unsigned)((rows + 255) / 256);
  uniq_insert<<<blocks, 256, 0, s>>>((const ucol*)d_descs, ncols, rows, 0);
  uniq_resolve<<<blocks, 256, 0, s>>>((const ucol*)d_descs, ncols, rows);
  uniq_number<<<(unsigned)ncols, PGPQ_ENC_THREADS, 0, s>>>((const ucol*)d_descs);
  return cudaGetLastError();
}

size_t pgpq_fuse_bytes_desc_size(void) { return sizeof(bdev); }

void pgpq_fuse_bytes_desc(void* desc, const int32_t* offsets, const uint8_t* data, const uint8_t* valid, int64_t n,
                          uint8_t* out, int64_t* size, int32_t* minmax) {
  bdev d;
  memset(&d, 0, sizeof d);
  d.offsets = offsets;
  d.data = data;
  d.valid = valid;
  d.n = n;
  d.out = out;
  d.size = size;
  d.minmax = minmax;
  memcpy(desc, &d, sizeof d);
}

cudaError_t pgpq_fuse_launch_bytes(const void* d_descs, int ncols, cudaStream_t s) {
  if (ncols <= 0) return cudaSuccess;
  bytes_plain<<<(unsigned)ncols, PGPQ_ENC_THREADS, 0, s>>>((const bdev*)d_descs);
  return cudaGetLastError();
}
