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
// One-dimensional list columns of fixed-width scalars or strings (int[], text[], ...) are
// checked and counted by decode_kernel exactly as the CPU decoder's flat-list path checks them
// (gpuparse/list.go; an array it would have to judge sets the flag), their element counts and
// string bytes scanned with the var-length lengths, and list_kernel (run by pgpq_finish, once
// the Go side has allocated buffers of the sizes pgpq_scan reported) writes their offsets and
// elements.
//
// Numeric columns exported as their exact text (K_NUMERIC_STRING) are checked by decode_kernel as
// the CPU decoder checks them (gpuparse/numeric.go: header, digits 0..9999; anything else sets
// the flag), which records each value's text length, scanned with the others; numtext_kernel (run
// by pgpq_finish, a warp per value) writes the text numeric_out prints, each character computed
// on its own from the header and one base-10000 digit.
//
// Columns of kinds without a kernel (other arrays, composites, decimal256, ...) cost the GPU
// only their field positions, recorded during the walk: the Go side decodes those columns
// alone from them.
#include <cuda_runtime.h>
#include <cub/device/device_scan.cuh>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpq_abi.h"  // pgpq_col
#include "fuse.h"       // the page encoder and string grouping, run by pgpq_finish_fused
#include "faults.h"     // take_fault
#define PGPQ_CALLSTATS_DEFINE
#include "callstats.h"  // after the CUDA headers: counts the runtime calls below

#define PGPQ_ABI 4

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

// pgpq_lout is where one list column's element outputs of the current chunk are.
struct pgpq_lout {
  uint32_t* evalid;  // element validity words
  uint8_t* evals;    // element values; bitmap words for bool; int32 offsets for strings
  uint8_t* edata;    // string and binary bytes
};

// Statistics a scan gathers per chunk (d_stats), for ncols columns: NULL counts, var-length
// bytes, and per list column its elements, NULL elements and string bytes; then the bad flag.
#define ST_NULLS(c) (c)
#define ST_VAR(c) (ncols + (c))
#define ST_ELEMS(c) (2 * ncols + (c))
#define ST_ENULLS(c) (3 * ncols + (c))
#define ST_EBYTES(c) (4 * ncols + (c))
#define ST_BAD (5 * ncols)
#define NSTATS(ncols) (5 * (size_t)(ncols) + 1)

struct pgpq_job;

// The work area of a chunk of rows rows (d_work, int32): nseg = nvar + 2 * nlist + nnum segments
// of rows + 1 lengths (each var-length column's value lengths, then each list column's element
// counts and element string bytes, then each numeric text column's text lengths), their
// exclusive scan (one scan for all), and nvar + nlist + nnum segments of rows field offsets
// (where each var-length value, each list's array and each numeric starts). The var-length and
// list segments' lengths are bytes or length words of distinct parts of the chunk, so they never
// exceed the chunk's size; a numeric's text can be longer than its field (1e100 is 4 digit
// bytes), so pgpq_scan flags a chunk whose scanned total does not fit in an int32.
struct pgpq_decoder {
  int ncols, nvar, nlist, nnum;
  pgpq_col* cols;      // host copy
  pgpq_col* d_cols;    // device copy
  int32_t* vcols;      // host: column index of each var-length GPU column
  int32_t* d_vcols;
  int32_t* lcols;      // host: column index of each GPU list column
  int32_t* d_lcols;
  int32_t* ncols_num;  // host: column index of each GPU numeric text column
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
  size_t cap_data, cap_starts, cap_work, cap_out, cap_tmp, cap_lout;  // bytes
  uint8_t* d_data;
  uint32_t* d_starts;
  int32_t* d_work;      // see pgpq_decoder
  unsigned long long* d_stats;  // NSTATS(ncols): ST_*
  unsigned long long* h_stats;  // pinned copy of d_stats
  pgpq_out* d_outs;
  pgpq_out* h_outs;     // pinned
  uint8_t* d_out;       // every output buffer of one chunk
  void* d_tmp;          // cub scan scratch
  size_t* layout;       // [3*ncols] offsets in d_out of values, validity, data
  size_t* sizes;        // [3*ncols] their sizes
  // List columns' element outputs (list_prepare): d_lout holds first every bitmap (lbitmaps
  // bytes, zeroed by list_launch), then values and string bytes.
  uint8_t* d_lout;
  pgpq_lout* d_louts;
  pgpq_lout* h_louts;   // pinned
  size_t* llayout;      // [3*nlist] offsets in d_lout of element validity, values, data
  size_t lbitmaps;
  // Numeric text columns' text (num_prepare): d_nout at nlayout[n] for column n, grown to the
  // bytes the last scan counted.
  uint8_t* d_nout;
  size_t cap_nout;
  size_t* nlayout;      // [nnum]
  int64_t* h_lay;       // [3*ncols] scratch of pgpq_job_layout's offsets
  // pgpq_finish_fused's device memory (a mirror of the caller's host buffer, then the column
  // descriptions, hash tables and slots) and pinned staging of the descriptions; both grown.
  uint8_t* d_fuse;
  size_t cap_fuse;
  uint8_t* h_fdesc;
  size_t cap_fdesc;
  pgpq_job* next;
};

// Faults to inject, for tests of the Go side's recovery (pgpq_inject_faults): the next this many
// scans / finishes fail as a CUDA error would. Test-only process state.
static int g_fail_scans = 0, g_fail_finishes = 0;

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

// elem_in_range says whether a fixed-width array element converts to its Arrow type, as
// flatList.inRange does: dates and timestamps must not overflow their shift to 1970.
__device__ __forceinline__ bool elem_in_range(int op, const uint8_t* v) {
  if (op == PGPQ_EL_DATE) {
    int32_t d = (int32_t)be32(v);
    return d == INT32_MAX || d == INT32_MIN || d < INT32_MAX - (int32_t)PG_EPOCH_DAYS;
  }
  if (op == PGPQ_EL_TIMESTAMP) {
    long long t = (long long)be64(v);
    return t == INT64_MAX || t == INT64_MIN || t < INT64_MAX - PG_EPOCH_MICROS;
  }
  return true;
}

// scan_array is flatList.scan on the device: true exactly when the CPU decoder's fast path
// accepts array value b of len bytes for column col, with its element count, NULL elements and
// string bytes.
__device__ bool scan_array(const pgpq_col& col, const uint8_t* b, int32_t len, int32_t* cnt, int32_t* nulls,
                           int32_t* nbytes) {
  *cnt = *nulls = *nbytes = 0;
  if (len < 12 || be32(b + 4) > 1u || (col.elem_oid != 0 && be32(b + 8) != col.elem_oid)) return false;
  const uint32_t ndim = be32(b);
  if (ndim == 0) return len == 12;
  if (ndim != 1 || len < 20 || be32(b + 16) != 1u) return false;
  const int32_t size = (int32_t)be32(b + 12);
  if (size < 0 || size > (len - 20) / 4) return false;
  int32_t p = 20, nn = 0, nb = 0;
  for (int32_t i = 0; i < size; i++) {
    if (len - p < 4) return false;
    const int32_t l = (int32_t)be32(b + p);
    p += 4;
    if (l == -1) {
      nn++;
      continue;
    }
    if (l < 0 || l > len - p) return false;
    if (col.elem_fixed == 0) nb += l;  // at most len
    else if (l != col.elem_fixed || !elem_in_range(col.elem_op, b + p)) return false;
    p += l;
  }
  if (p != len) return false;
  *cnt = size;
  *nulls = nn;
  *nbytes = nb;
  return true;
}

// dec_len is decLen: the decimal digits numeric_out prints for a leading base-10000 digit d
// (leading zeros suppressed, at least one).
__device__ __forceinline__ int dec_len(uint32_t d) { return 1 + (d >= 10) + (d >= 100) + (d >= 1000); }

// numeric_text_len is numericTextLen (gpuparse/numeric.go) of numeric field body p of len bytes:
// the length of the text writeNumericText writes, or -1 where the CPU decoder rejects the value
// (a field length other than 8 + 2 * ndigits, a bad sign or dscale, a digit outside 0..9999,
// printed or not, NaN's and the infinities' included).
__device__ int32_t numeric_text_len(const uint8_t* p, int32_t len) {
  if (len < 8) return -1;
  const int32_t nd = (int32_t)be16(p);  // unsigned, as the CPU decoder reads it
  if (len != 8 + 2 * nd) return -1;
  const int32_t weight = (int16_t)be16(p + 2);
  const uint32_t sign = be16(p + 4);
  const uint32_t dscale = be16(p + 6);
  if ((dscale & ~0x3FFFu) != 0) return -1;
  for (int32_t i = 0; i < nd; i++)
    if (be16(p + 8 + 2 * i) >= 10000) return -1;
  switch (sign) {
    case 0xC000: return 3;  // NaN
    case 0xD000: return 8;  // Infinity
    case 0xF000: return 9;  // -Infinity
    case 0x0000:
    case 0x4000: break;
    default: return -1;
  }
  int32_t n = sign == 0x4000;
  n += weight < 0 ? 1 : 4 * weight + dec_len(nd > 0 ? be16(p + 8) : 0);
  if (dscale > 0) n += 1 + (int32_t)dscale;
  return n;
}

// numeric_digit_char is decimal digit pos (0: thousands ... 3: units) of base-10000 digit idx of
// numeric field body b with nd digits, as a character; digits outside 0..nd-1 are zeros.
__device__ __forceinline__ uint8_t numeric_digit_char(const uint8_t* b, int32_t nd, int32_t idx, int pos) {
  const uint32_t g = idx >= 0 && idx < nd ? be16(b + 8 + 2 * idx) : 0;
  const uint32_t div = pos == 0 ? 1000 : pos == 1 ? 100 : pos == 2 ? 10 : 1;
  return (uint8_t)('0' + (g / div) % 10);
}

// warp_add adds v over the warp and, from lane 0, to *dst (when not zero).
__device__ __forceinline__ void warp_add(unsigned long long v, unsigned long long* dst, int lane) {
  for (int k = 16; k > 0; k >>= 1) v += __shfl_down_sync(0xffffffffu, v, k);
  if (lane == 0 && v) atomicAdd(dst, v);
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
    int nvar, int nlist, int nseg, const pgpq_col* __restrict__ cols, const pgpq_out* __restrict__ outs, int32_t* __restrict__ work,
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
  int32_t* foffs = work + 2 * (size_t)nseg * (rows + 1);
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
    if (lane == 0 && nullmask) atomicAdd(&stats[ST_NULLS(c)], (unsigned long long)__popc(nullmask));
    const pgpq_out o = outs[c];
    if (!col.on_gpu) {
      // The CPU decodes this column from where its fields are (meaningless once !ok: the
      // chunk then goes to the CPU whole).
      if (in) ((int32_t*)o.vals)[r] = (int32_t)lpos;
      continue;
    }
    const unsigned validmask = __ballot_sync(0xffffffffu, in && present);
    if (lane == 0 && r < rows) o.valid[r >> 5] = validmask;
    if (col.list) {
      int32_t cnt = 0, enulls = 0, eb = 0;
      if (present && !scan_array(col, AT(fpos), len, &cnt, &enulls, &eb)) ok = false;  // counts left 0
      if (in) {
        const size_t seg = (size_t)nvar + 2 * (size_t)col.lidx;
        lens[seg * (rows + 1) + r] = cnt;
        lens[(seg + 1) * (rows + 1) + r] = eb;
        foffs[((size_t)nvar + col.lidx) * rows + r] = (int32_t)fpos;
        if (r == rows - 1) lens[seg * (rows + 1) + rows] = lens[(seg + 1) * (rows + 1) + rows] = 0;
      }
      warp_add((unsigned long long)cnt, &stats[ST_ELEMS(c)], lane);
      warp_add((unsigned long long)enulls, &stats[ST_ENULLS(c)], lane);
      warp_add((unsigned long long)eb, &stats[ST_EBYTES(c)], lane);
    } else if (col.nidx >= 0) {
      // Numeric text: the text's length, or the flag where the CPU decoder must judge the value.
      int32_t n = 0;
      if (present) {
        n = numeric_text_len(AT(fpos), len);
        if (n < 0) { ok = false; n = 0; }
      }
      if (in) {
        const size_t seg = (size_t)nvar + 2 * (size_t)nlist + col.nidx;
        lens[seg * (rows + 1) + r] = n;
        foffs[((size_t)nvar + nlist + col.nidx) * rows + r] = (int32_t)fpos;
        if (r == rows - 1) lens[seg * (rows + 1) + rows] = 0;
      }
      warp_add((unsigned long long)n, &stats[ST_VAR(c)], lane);
    } else if (col.varlen) {
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
      warp_add((unsigned long long)n, &stats[ST_VAR(c)], lane);
    } else if (col.kind == K_BOOL) {
      const unsigned bits = __ballot_sync(0xffffffffu, in && present && *AT(fpos) != 0);
      if (lane == 0 && r < rows) ((uint32_t*)o.vals)[r >> 5] = bits;
    } else if (in) {
      if (!put_fixed(col, AT(fpos), len, o.vals, r)) ok = false;
    }
  }
  if (in && ok && pos != end) ok = false;
  if (in && !ok) atomicOr(&stats[ST_BAD], 1ull);
#undef AT
}

// copy_kernel: a warp per var-length value (blockIdx.y is the var-length column), writing the
// Arrow offsets (relative to the column's first byte) and the bytes.
__global__ void copy_kernel(const uint8_t* __restrict__ data, int64_t rows, int nseg, const int32_t* __restrict__ vcols,
                            const pgpq_out* __restrict__ outs, const int32_t* __restrict__ work, uint8_t* __restrict__ dst) {
  const int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  const int v = blockIdx.y;
  if (w > rows) return;
  const int32_t* lens = work + (size_t)v * (rows + 1);
  const int32_t* scan = work + (size_t)nseg * (rows + 1) + (size_t)v * (rows + 1);
  const int32_t* foffs = work + 2 * (size_t)nseg * (rows + 1) + (size_t)v * rows;
  const int32_t at = scan[w];
  if (lane == 0) ((int32_t*)outs[vcols[v]].vals)[w] = at - scan[0];
  if (w == rows) return;
  const int32_t n = lens[w];
  const uint8_t* src = data + foffs[w];
  uint8_t* out = dst + at;
  for (int32_t k = lane; k < n; k += 32) out[k] = src[k];
}

// numtext_kernel: a warp per value of one numeric text column, writing its Arrow offset (relative
// to the column's first byte; warp rows writes the closing one) and the text writeNumericText
// (gpuparse/numeric.go) writes, as numeric_out prints it: NaN, Infinity, -Infinity; else a '-'
// for negative values (negative zero included), the integer part without leading zeros ("0"
// when the weight is negative), and, when dscale > 0, a point and exactly dscale fraction digits
// (zeros past the digits, digits past dscale dropped). Each lane writes every 32nd character,
// computed from the header and one base-10000 digit. lens, scan and foffs are the column's
// segments of the work area; only values numeric_text_len accepted have a non-zero length.
__global__ void numtext_kernel(const uint8_t* __restrict__ data, int64_t rows, const int32_t* __restrict__ lens,
                               const int32_t* __restrict__ scan, const int32_t* __restrict__ foffs,
                               int32_t* __restrict__ offs, uint8_t* __restrict__ dst) {
  const int64_t w = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (w > rows) return;
  const int32_t at = scan[w] - scan[0];
  if (lane == 0) offs[w] = at;
  if (w == rows) return;
  const int32_t n = lens[w];
  if (n == 0) return;  // NULL
  const uint8_t* b = data + foffs[w];
  uint8_t* out = dst + at;
  const int32_t nd = (int32_t)be16(b);
  const int32_t weight = (int16_t)be16(b + 2);
  const uint32_t sign = be16(b + 4);
  if (sign >= 0xC000) {
    const char* t = sign == 0xC000 ? "NaN" : sign == 0xD000 ? "Infinity" : "-Infinity";
    for (int32_t k = lane; k < n; k += 32) out[k] = (uint8_t)t[k];
    return;
  }
  const int32_t neg = sign == 0x4000;
  // The integer part: "0", or digits 0..weight with the leading zeros of digit 0 skipped.
  int32_t intLen = 1, skip = 0;
  if (weight >= 0) {
    const int kl = dec_len(nd > 0 ? be16(b + 8) : 0);
    intLen = 4 * weight + kl;
    skip = 4 - kl;
  }
  for (int32_t k = lane; k < n; k += 32) {
    const int32_t q = k - neg;
    uint8_t ch;
    if (q < 0) {
      ch = '-';
    } else if (q < intLen) {
      const int32_t p = q + skip;
      ch = weight < 0 ? '0' : numeric_digit_char(b, nd, p >> 2, p & 3);
    } else if (q == intLen) {
      ch = '.';
    } else {
      const int32_t f = q - intLen - 1;  // fraction digit f: digit weight + 1 + f / 4 on
      ch = numeric_digit_char(b, nd, weight + 1 + (f >> 2), f & 3);
    }
    out[k] = ch;
  }
}

// list_kernel: a thread per row (blockIdx.y is the list column), writing the row's list offset
// and its elements as the CPU decoder's putList does: validity bits (gathered per 32-bit word
// and or-ed in, since the elements of neighbouring rows share words), values (NULL slots zero),
// string offsets and bytes. Thread rows writes the closing offsets. Only arrays scan_array
// accepted are walked (others have no elements), so every read stays inside the chunk.
__global__ void list_kernel(const uint8_t* __restrict__ data, int64_t rows, int nvar, int nseg,
                            const int32_t* __restrict__ lcols, const pgpq_col* __restrict__ cols,
                            const pgpq_out* __restrict__ outs, const pgpq_lout* __restrict__ louts,
                            const int32_t* __restrict__ work) {
  const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int l = blockIdx.y;
  if (r > rows) return;
  const int c = lcols[l];
  const pgpq_col col = cols[c];
  const pgpq_lout lo = louts[l];
  int32_t* loffs = (int32_t*)outs[c].vals;
  int32_t* eoffs = (int32_t*)lo.evals;
  const bool str = col.elem_op == PGPQ_EL_STRING;
  if (rows == 0) {  // nothing was scanned
    loffs[0] = 0;
    if (str) eoffs[0] = 0;
    return;
  }
  const size_t seg = (size_t)nvar + 2 * (size_t)l;
  const int32_t* scan = work + (size_t)nseg * (rows + 1);
  const int32_t* cscan = scan + seg * (rows + 1);
  const int32_t* bscan = cscan + (rows + 1);
  const int32_t first = cscan[r] - cscan[0];
  loffs[r] = first;
  if (r == rows) {
    if (str) eoffs[first] = bscan[rows] - bscan[0];
    return;
  }
  const int32_t n = work[seg * (rows + 1) + r];
  if (n == 0) return;
  const uint8_t* p = data + work[2 * (size_t)nseg * (rows + 1) + ((size_t)nvar + l) * rows + r] + 20;
  int32_t at = bscan[r] - bscan[0];
  uint32_t* bools = (uint32_t*)lo.evals;
  int32_t word = first >> 5;
  uint32_t vbits = 0, bbits = 0;  // validity and bool bits of word, not yet or-ed in
  for (int32_t i = first; i < first + n; i++) {
    if ((i >> 5) != word) {
      if (vbits) atomicOr(&lo.evalid[word], vbits);
      if (bbits) atomicOr(&bools[word], bbits);
      word = i >> 5;
      vbits = bbits = 0;
    }
    const int32_t len = (int32_t)be32(p);
    p += 4;
    const bool present = len >= 0;
    if (present) vbits |= 1u << (i & 31);
    switch (col.elem_op) {
      case PGPQ_EL_STRING:
        eoffs[i] = at;
        for (int32_t k = 0; k < len; k++) lo.edata[at + k] = p[k];
        if (present) at += len;
        break;
      case PGPQ_EL_BOOL:
        if (present && p[0] != 0) bbits |= 1u << (i & 31);
        break;
      case PGPQ_EL_COPY:
        if (col.elem_width == 2) ((uint16_t*)lo.evals)[i] = present ? (uint16_t)be16(p) : 0;
        else if (col.elem_width == 4) ((uint32_t*)lo.evals)[i] = present ? be32(p) : 0;
        else ((uint64_t*)lo.evals)[i] = present ? be64(p) : 0;
        break;
      case PGPQ_EL_DATE: {
        int32_t v = present ? (int32_t)be32(p) : 0;
        if (present && v != INT32_MAX && v != INT32_MIN) v += (int32_t)PG_EPOCH_DAYS;  // in range: scanned
        ((int32_t*)lo.evals)[i] = v;
        break;
      }
      case PGPQ_EL_TIMESTAMP: {
        long long v = present ? (long long)be64(p) : 0;
        if (present && v != INT64_MAX && v != INT64_MIN) v += PG_EPOCH_MICROS;  // in range: scanned
        ((long long*)lo.evals)[i] = v;
        break;
      }
      case PGPQ_EL_MONEY: {
        long long m = present ? (long long)be64(p) : 0;
        ((unsigned long long*)lo.evals)[2 * (size_t)i] = (unsigned long long)m;
        ((unsigned long long*)lo.evals)[2 * (size_t)i + 1] = (unsigned long long)(m >> 63);
        break;
      }
    }
    if (present) p += len;
  }
  if (vbits) atomicOr(&lo.evalid[word], vbits);
  if (bbits) atomicOr(&bools[word], bbits);
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
  cudaFree(j->d_lout);
  cudaFree(j->d_louts);
  cudaFree(j->d_nout);
  cudaFree(j->d_fuse);
  cudaFreeHost(j->h_fdesc);
  cudaFreeHost(j->h_stats);
  cudaFreeHost(j->h_outs);
  cudaFreeHost(j->h_louts);
  if (j->ev0) cudaEventDestroy(j->ev0);
  if (j->ev1) cudaEventDestroy(j->ev1);
  if (j->stream) cudaStreamDestroy(j->stream);
  free(j->layout);
  free(j->sizes);
  free(j->llayout);
  free(j->nlayout);
  free(j->h_lay);
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
  int nl = d->nlist > 0 ? d->nlist : 1;
  j->llayout = (size_t*)calloc(3 * nl, sizeof(size_t));
  j->nlayout = (size_t*)calloc(d->nnum > 0 ? d->nnum : 1, sizeof(size_t));
  j->h_lay = (int64_t*)calloc(3 * n, sizeof(int64_t));
  *e = cudaStreamCreateWithFlags(&j->stream, cudaStreamNonBlocking);
  if (*e == cudaSuccess) *e = cudaEventCreate(&j->ev0);
  if (*e == cudaSuccess) *e = cudaEventCreate(&j->ev1);
  if (*e == cudaSuccess) *e = cudaMalloc((void**)&j->d_stats, sizeof(unsigned long long) * NSTATS(n));
  if (*e == cudaSuccess) *e = cudaMallocHost((void**)&j->h_stats, sizeof(unsigned long long) * NSTATS(n));
  if (*e == cudaSuccess) *e = cudaMalloc((void**)&j->d_outs, sizeof(pgpq_out) * n);
  if (*e == cudaSuccess) *e = cudaMallocHost((void**)&j->h_outs, sizeof(pgpq_out) * n);
  if (*e == cudaSuccess) *e = cudaMalloc((void**)&j->d_louts, sizeof(pgpq_lout) * nl);
  if (*e == cudaSuccess) *e = cudaMallocHost((void**)&j->h_louts, sizeof(pgpq_lout) * nl);
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
  int ncols = d->ncols, nvar = d->nvar, nseg = d->nvar + 2 * d->nlist + d->nnum;
  cudaStream_t s = j->stream;
  j->rows = rows;
  j->nbytes = nbytes;
  size_t rows1 = rows > 0 ? (size_t)rows : 1;
  int64_t words = (rows + 31) / 32;
  // Output layout: per GPU column its values and validity words; one region for the bytes of
  // every var-length column (their total never exceeds the chunk; numeric text has its own,
  // d_nout).
  size_t total = 0;
  for (int c = 0; c < ncols; c++) {
    pgpq_col col = d->cols[c];
    size_t* sz = j->sizes + 3 * c;
    sz[0] = sz[1] = sz[2] = 0;
    if (!col.on_gpu) {
      sz[0] = 4 * (size_t)rows;  // field positions
    } else {
      sz[0] = col.varlen || col.list ? 4 * (size_t)(rows + 1) : col.kind == K_BOOL ? 4 * (size_t)words : (size_t)col.width * rows;
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
  if (e == cudaSuccess)
    e = grow((void**)&j->d_work, &j->cap_work,
             sizeof(int32_t) * (2 * (size_t)nseg * (rows1 + 1) + (size_t)(nvar + d->nlist + d->nnum) * rows1 + 1));
  if (e == cudaSuccess) e = grow((void**)&j->d_out, &j->cap_out, total > 0 ? total : 1);
  size_t scanTmp = 0;
  int nscan = (int)((size_t)nseg * (rows + 1));
  if (e == cudaSuccess && nseg > 0) e = cub::DeviceScan::ExclusiveSum(NULL, scanTmp, (int32_t*)NULL, (int32_t*)NULL, nscan, s);
  if (e == cudaSuccess) e = grow(&j->d_tmp, &j->cap_tmp, scanTmp > 0 ? scanTmp : 1);
  for (int c = 0; c < ncols; c++) {
    j->h_outs[c].vals = j->d_out + j->layout[3 * c];
    j->h_outs[c].valid = (uint32_t*)(j->d_out + j->layout[3 * c + 1]);
    j->layout[3 * c + 2] = dataAt;  // plus the column's scan base, read back with the stats
  }
  if (e == cudaSuccess && ncols > 0) e = cudaMemcpyAsync(j->d_outs, j->h_outs, sizeof(pgpq_out) * ncols, cudaMemcpyHostToDevice, s);
  if (e == cudaSuccess) e = cudaMemsetAsync(j->d_stats, 0, sizeof(unsigned long long) * NSTATS(ncols), s);
  // No kernel writes the outputs of an empty chunk: its var-length offsets are one zero.
  if (e == cudaSuccess && rows == 0 && total > 0) e = cudaMemsetAsync(j->d_out, 0, total, s);
  if (e == cudaSuccess && rows > 0) {
    decode_kernel<<<(unsigned)((rows + DECODE_THREADS - 1) / DECODE_THREADS), DECODE_THREADS, 0, s>>>(
        j->d_data, nbytes, j->d_starts, rows, ncols, nvar, d->nlist, nseg, d->d_cols, j->d_outs, j->d_work, j->d_stats);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess && rows > 0 && nseg > 0) {
    size_t tmp = scanTmp;
    e = cub::DeviceScan::ExclusiveSum(j->d_tmp, tmp, j->d_work, j->d_work + (size_t)nseg * (rows + 1), nscan, s);
    if (e == cudaSuccess && nvar > 0) {
      dim3 grid((unsigned)(((rows + 1) * 32 + 255) / 256), (unsigned)nvar);
      copy_kernel<<<grid, 256, 0, s>>>(j->d_data, rows, nseg, d->d_vcols, j->d_outs, j->d_work, j->d_out + dataAt);
      e = cudaGetLastError();
    }
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(j->h_stats, j->d_stats, sizeof(unsigned long long) * NSTATS(ncols), cudaMemcpyDeviceToHost, s);
  return e;
}

// list_prepare lays out the list columns' element outputs in d_lout from the statistics of the
// job's last run (in h_stats: the stream synchronized since), growing it, and uploads where
// they are. Bitmaps come first, as 32-bit words.
static cudaError_t list_prepare(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  size_t at = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int l = 0; l < d->nlist; l++) {
      const pgpq_col col = d->cols[d->lcols[l]];
      const size_t n = (size_t)j->h_stats[ST_ELEMS(d->lcols[l])];
      const size_t eb = (size_t)j->h_stats[ST_EBYTES(d->lcols[l])];
      const size_t words = 4 * ((n + 31) / 32);
      size_t* lay = j->llayout + 3 * l;
      if (pass == 0) {
        lay[0] = at;
        at += align64(words);
        if (col.elem_op == PGPQ_EL_BOOL) {
          lay[1] = at;
          at += align64(words);
        }
        continue;
      }
      if (col.elem_op != PGPQ_EL_BOOL) {
        lay[1] = at;
        at += align64(col.elem_op == PGPQ_EL_STRING ? 4 * (n + 1) : (size_t)col.elem_width * n);
      }
      lay[2] = at;
      at += align64(eb);
    }
    if (pass == 0) j->lbitmaps = at;
  }
  cudaError_t e = grow((void**)&j->d_lout, &j->cap_lout, at > 0 ? at : 1);
  for (int l = 0; l < d->nlist && e == cudaSuccess; l++) {
    const size_t* lay = j->llayout + 3 * l;
    j->h_louts[l].evalid = (uint32_t*)(j->d_lout + lay[0]);
    j->h_louts[l].evals = j->d_lout + lay[1];
    j->h_louts[l].edata = j->d_lout + lay[2];
  }
  if (e == cudaSuccess && d->nlist > 0)
    e = cudaMemcpyAsync(j->d_louts, j->h_louts, sizeof(pgpq_lout) * d->nlist, cudaMemcpyHostToDevice, j->stream);
  return e;
}

// list_launch zeroes the list columns' bitmaps and runs list_kernel (after list_prepare).
static cudaError_t list_launch(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  cudaStream_t s = j->stream;
  cudaError_t e = cudaSuccess;
  if (j->lbitmaps > 0) e = cudaMemsetAsync(j->d_lout, 0, j->lbitmaps, s);
  if (e == cudaSuccess && d->nlist > 0) {
    dim3 grid((unsigned)((j->rows + 1 + 255) / 256), (unsigned)d->nlist);
    list_kernel<<<grid, 256, 0, s>>>(j->d_data, j->rows, d->nvar, d->nvar + 2 * d->nlist + d->nnum, d->d_lcols, d->d_cols,
                                     j->d_outs, j->d_louts, j->d_work);
    e = cudaGetLastError();
  }
  return e;
}

// num_prepare lays out the numeric text columns' text in d_nout from the statistics of the job's
// last run (in h_stats: the stream synchronized since), growing it.
static cudaError_t num_prepare(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  const int ncols = d->ncols;
  size_t at = 0;
  for (int n = 0; n < d->nnum; n++) {
    j->nlayout[n] = at;
    at += align64((size_t)j->h_stats[ST_VAR(d->ncols_num[n])]);
  }
  return grow((void**)&j->d_nout, &j->cap_nout, at > 0 ? at : 1);
}

// num_launch runs numtext_kernel for each numeric text column (after num_prepare). An empty
// chunk has nothing to write: its offsets are the zero run left.
static cudaError_t num_launch(pgpq_job* j) {
  pgpq_decoder* d = j->dec;
  const int64_t rows = j->rows;
  if (rows == 0) return cudaSuccess;
  const size_t nseg = (size_t)d->nvar + 2 * (size_t)d->nlist + d->nnum;
  const int32_t* scan = j->d_work + nseg * (rows + 1);
  const int32_t* foffs = j->d_work + 2 * nseg * (rows + 1);
  cudaError_t e = cudaSuccess;
  for (int n = 0; n < d->nnum && e == cudaSuccess; n++) {
    const size_t seg = (size_t)d->nvar + 2 * (size_t)d->nlist + n;
    const int c = d->ncols_num[n];
    numtext_kernel<<<(unsigned)(((rows + 1) * 32 + 255) / 256), 256, 0, j->stream>>>(
        j->d_data, rows, j->d_work + seg * (rows + 1), scan + seg * (rows + 1),
        foffs + ((size_t)d->nvar + d->nlist + n) * rows, (int32_t*)j->h_outs[c].vals, j->d_nout + j->nlayout[n]);
    e = cudaGetLastError();
  }
  return e;
}

extern "C" {

int pgpq_abi_version(void) { return PGPQ_ABI; }

// sync_flags is how threads wait for the device: they sleep (blocking sync) unless
// $PGPARQUET_CUDA_SYNC asks otherwise (spin, yield or auto), for measurements: on the H200
// host (s14a) spinning took 30% more CPU and yielding 12% more, at the same speed.
static unsigned sync_flags(void) {
  const char* v = getenv("PGPARQUET_CUDA_SYNC");
  if (v && strcmp(v, "spin") == 0) return cudaDeviceScheduleSpin;
  if (v && strcmp(v, "yield") == 0) return cudaDeviceScheduleYield;
  if (v && strcmp(v, "auto") == 0) return cudaDeviceScheduleAuto;
  return cudaDeviceScheduleBlockingSync;
}

// pgpq_device_count returns the number of CUDA devices, or -1 with err set. It also creates
// device 0's context, which takes a few hundred milliseconds: the Go side calls this while an
// export takes its snapshot, so that decoding can start at once.
int pgpq_device_count(char* err, int errlen) {
  int n = 0;
  CK(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (n > 0) {
    // Threads waiting for a stream sleep instead of spinning (see pgpq_open); the flag must
    // be set before the context exists.
    cudaSetDeviceFlags(sync_flags());
    cudaGetLastError();
    CK(cudaSetDevice(0), "cudaSetDevice");
    CK(cudaFree(0), "create the device context");
  }
  return n;
}

// pgpq_host_alloc returns pinned host memory (fast host<->device copies), NULL on failure.
void* pgpq_host_alloc(size_t n) {
  PGPQ_API_SCOPE(CS_API_HOST_ALLOC);
  void* p = NULL;
  if (cudaMallocHost(&p, n) != cudaSuccess) return NULL;
  return p;
}

void pgpq_host_free(void* p) {
  PGPQ_API_SCOPE(CS_API_HOST_FREE);
  cudaFreeHost(p);
}

// pgpq_open makes a decoder for ncols columns described by cols (copied).
void* pgpq_open(int device, int ncols, const pgpq_col* cols, char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
  // Threads waiting for a stream sleep instead of spinning: every CPU cycle an export burns is
  // taken from the PostgreSQL backends it reads from. (Fails harmlessly once the device's
  // context exists.)
  cudaSetDeviceFlags(sync_flags());
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
  d->lcols = (int32_t*)calloc(n, sizeof(int32_t));
  d->ncols_num = (int32_t*)calloc(n, sizeof(int32_t));
  memcpy(d->cols, cols, sizeof(pgpq_col) * ncols);
  for (int c = 0; c < ncols; c++) {
    pgpq_col* col = &d->cols[c];
    col->vidx = col->lidx = col->nidx = -1;
    if (!col->on_gpu) continue;
    if (col->list) {
      col->varlen = 0;
      col->lidx = d->nlist;
      d->lcols[d->nlist++] = c;
    } else if (col->kind == K_NUMERIC_STRING) {
      col->varlen = 1;
      col->nidx = d->nnum;
      d->ncols_num[d->nnum++] = c;
    } else if (col->varlen) {
      col->vidx = d->nvar;
      d->vcols[d->nvar++] = c;
    }
  }
  e = cudaMalloc(&d->d_cols, sizeof(pgpq_col) * n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_cols, d->cols, sizeof(pgpq_col) * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMalloc(&d->d_vcols, sizeof(int32_t) * n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_vcols, d->vcols, sizeof(int32_t) * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMalloc(&d->d_lcols, sizeof(int32_t) * n);
  if (e == cudaSuccess) e = cudaMemcpy(d->d_lcols, d->lcols, sizeof(int32_t) * n, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    set_err(err, errlen, "pgpq_open", e);
    cudaFree(d->d_cols);
    cudaFree(d->d_vcols);
    cudaFree(d->d_lcols);
    free(d->cols);
    free(d->vcols);
    free(d->lcols);
    free(d->ncols_num);
    free(d);
    return NULL;
  }
  return d;
}

void pgpq_close(void* h) {
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
  pgpq_decoder* d = (pgpq_decoder*)h;
  if (!d) return;
  while (d->free_jobs) {
    pgpq_job* j = d->free_jobs;
    d->free_jobs = j->next;
    job_destroy(j);
  }
  cudaFree(d->d_cols);
  cudaFree(d->d_vcols);
  cudaFree(d->d_lcols);
  pthread_mutex_destroy(&d->mu);
  free(d->cols);
  free(d->vcols);
  free(d->lcols);
  free(d->ncols_num);
  free(d);
}

// pgpq_scan decodes a chunk on the device: it copies the chunk up, runs every kernel and
// returns, per column, the NULL count (nulls[c]) and var-length bytes (varbytes[c]); per list
// column decoded on the GPU its elements (elems[c]), NULL elements (elem_nulls[c]) and
// string or binary element bytes (elem_bytes[c]), 0 for other columns; and *bad != 0 when the
// chunk must be decoded on the CPU (also when the lengths scanned total more than an int32
// holds, which only numeric text can make; the segments before the numeric text ones, which
// copy_kernel used, cannot overflow). A numeric text column's varbytes are its text's bytes. It
// returns the job (NULL with err set on a CUDA error), which pgpq_finish or pgpq_abort must end.
void* pgpq_scan(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows,
                int64_t* nulls, int64_t* varbytes, int64_t* elems, int64_t* elem_nulls, int64_t* elem_bytes,
                int32_t* bad, char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_SCAN);
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
  unsigned long long scanned = 0;  // the total of the one scan
  for (int c = 0; c < ncols; c++) {
    nulls[c] = (int64_t)j->h_stats[ST_NULLS(c)];
    varbytes[c] = (int64_t)j->h_stats[ST_VAR(c)];
    elems[c] = (int64_t)j->h_stats[ST_ELEMS(c)];
    elem_nulls[c] = (int64_t)j->h_stats[ST_ENULLS(c)];
    elem_bytes[c] = (int64_t)j->h_stats[ST_EBYTES(c)];
    scanned += j->h_stats[ST_VAR(c)] + j->h_stats[ST_ELEMS(c)] + j->h_stats[ST_EBYTES(c)];
    if (d->cols[c].on_gpu && d->cols[c].varlen && d->cols[c].nidx < 0) {
      j->layout[3 * c + 2] += at;
      j->sizes[3 * c + 2] = (size_t)varbytes[c];
      at += (size_t)varbytes[c];
    }
  }
  *bad = j->h_stats[ST_BAD] != 0 || scanned > (unsigned long long)INT32_MAX;
  return j;
}

// pgpq_finish copies the job's columns into the host buffers given per column in three
// arrays of ncols pointers: values (offsets for var-length and list columns; the bitmap for
// bool; the int32 field positions of a column decoded on the CPU),
// validity (NULL when the column has no NULLs) and var-length data, and, for list columns
// decoded on the GPU, first writes their elements and copies them into the buffers given in
// lists, 3 * ncols pointers: element validity (NULL when the column has no element), element
// values (int32 offsets for strings; a bitmap for bool) and string data, at the sizes
// pgpq_scan implied; and for numeric text columns decoded on the GPU first writes their offsets
// and text (vardata[c]: varbytes[c] bytes). It then returns the job to its pool. *bad is always
// 0 here: pgpq_scan reported every problem.
int pgpq_finish_fused(void* jh, uint8_t** vals, uint8_t** valid, uint8_t** vardata, uint8_t** lists, uint8_t* arena,
                      int64_t arena_bytes, const pgpq_fuse_col* fuse, int nfuse, uint8_t* host, int64_t host_bytes,
                      int32_t* bad, char* err, int errlen);

int pgpq_finish(void* jh, uint8_t** vals, uint8_t** valid, uint8_t** vardata, uint8_t** lists, int32_t* bad, char* err,
                int errlen) {
  return pgpq_finish_fused(jh, vals, valid, vardata, lists, NULL, 0, NULL, 0, NULL, 0, bad, err, errlen);
}

// pgpq_job_layout gives, for a job pgpq_scan returned, where each column's buffers lie in its
// device output: offs[3 * c + k] (k: values, validity, var-length data; pgpq_finish's sizes),
// and *total, the bytes from the output's start to the end of the last one. A host arena of
// *total bytes that pgpq_finish_fused fills in one copy then holds each buffer at its offset.
void pgpq_job_layout(void* jh, int64_t* offs, int64_t* total) {
  pgpq_job* j = (pgpq_job*)jh;
  const int ncols = j->dec->ncols;
  size_t end = 0;
  for (int c = 0; c < ncols; c++) {
    for (int k = 0; k < 3; k++) {
      offs[3 * c + k] = (int64_t)j->layout[3 * c + k];
      const bool in_out = k < 2 || (j->dec->cols[c].on_gpu && j->dec->cols[c].varlen && j->dec->cols[c].nidx < 0);
      if (in_out && j->sizes[3 * c + k] > 0 && j->layout[3 * c + k] + j->sizes[3 * c + k] > end)
        end = j->layout[3 * c + k] + j->sizes[3 * c + k];
    }
  }
  *total = (int64_t)end;
}

static size_t fuse_align(size_t n) { return (n + 255) & ~(size_t)255; }

// fuse_slots is the hash table size of a string column of n rows: a power of two, at least
// twice the rows (as pgpq_uniq_first_run's).
static size_t fuse_slots(int64_t n) {
  const size_t m = (size_t)(n > 0 ? n : 1);
  size_t slots = 2;
  while (slots < 2 * m) slots <<= 1;
  return slots;
}

// fuse_launch queues on the job's stream, after its decoding, the work of nfuse columns (see
// pgpq_fuse_col) into a device mirror of host (host_bytes) and the copy of that mirror into
// host. The job's scan statistics give each column's NULL count.
static cudaError_t fuse_launch(pgpq_job* j, const pgpq_fuse_col* fuse, int nfuse, uint8_t* host, int64_t host_bytes,
                               char* err, int errlen) {
  pgpq_decoder* d = j->dec;
  const int ncols = d->ncols;
  const int64_t rows = j->rows;
  const size_t esz = pgpq_fuse_enc_desc_size(), usz = pgpq_fuse_uniq_desc_size(), bsz = pgpq_fuse_bytes_desc_size();
  int nenc = 0, nuniq = 0, nbytes = 0;
  size_t tables = 0, keys_bytes = 0;
  for (int k = 0; k < nfuse; k++) {
    const pgpq_fuse_col* f = &fuse[k];
    const bool plain = f->op == PGPQ_FUSE_PLAIN, uniq = f->op == PGPQ_FUSE_UNIQ, bytes = f->op == PGPQ_FUSE_BYTES;
    const int c = f->col;
    if (c < 0 || c >= ncols || !d->cols[c].on_gpu || d->cols[c].list || (!plain && !uniq && !bytes) ||
        ((uniq || bytes) && !d->cols[c].varlen) || (plain && (d->cols[c].varlen || f->stats < 0 || f->stats + 64 > host_bytes)) ||
        (bytes && (f->stats < 0 || f->stats + 16 > host_bytes || f->frag < 0 ||
                   f->frag + 4 * rows + (int64_t)j->h_stats[ST_VAR(c)] > host_bytes)) ||
        (plain && f->frag >= 0 && f->frag + rows * pgpq_plain_width(f->kind, f->width, f->out_width) > host_bytes) ||
        (uniq && (f->first < 0 || f->first + 8 * rows + 8 > host_bytes))) {
      snprintf(err, errlen, "pgpq_finish_fused: bad column %d (column %d, op %d)", k, c, f->op);
      return cudaErrorInvalidValue;
    }
    if (plain) nenc++;
    if (bytes) nbytes++;
    if (uniq) {
      nuniq++;
      const size_t slots = fuse_slots(rows);
      keys_bytes += fuse_align(slots * 8);
      tables += fuse_align(slots * 8) + fuse_align(slots * 4) + 2 * fuse_align((size_t)(rows > 0 ? rows : 1) * 4);
    }
  }
  const size_t mirror = fuse_align((size_t)host_bytes),
               descs = fuse_align(esz * nenc) + fuse_align(usz * nuniq) + fuse_align(bsz * nbytes);
  const size_t need = mirror + descs + tables;
  cudaError_t e = cudaSuccess;
  if (need > j->cap_fuse) {
    cudaFree(j->d_fuse);
    j->d_fuse = NULL;
    j->cap_fuse = 0;
    const size_t cap = need + need / 4;
    if ((e = cudaMalloc((void**)&j->d_fuse, cap)) != cudaSuccess) {
      j->d_fuse = NULL;
      return e;
    }
    j->cap_fuse = cap;
  }
  if (descs > j->cap_fdesc) {
    cudaStreamSynchronize(j->stream);  // the staging may still be read by a copy
    cudaFreeHost(j->h_fdesc);
    j->h_fdesc = NULL;
    j->cap_fdesc = 0;
    if ((e = cudaMallocHost((void**)&j->h_fdesc, 2 * descs)) != cudaSuccess) {
      j->h_fdesc = NULL;
      return e;
    }
    j->cap_fdesc = 2 * descs;
  }
  uint8_t* base = j->d_fuse;
  uint8_t* d_descs = base + mirror;
  uint8_t* h_enc = j->h_fdesc;
  uint8_t* h_uniq = j->h_fdesc + fuse_align(esz * nenc);
  uint8_t* h_bytes = h_uniq + fuse_align(usz * nuniq);
  uint8_t* keys = d_descs + descs;  // every column's keys, then every column's mins and slots
  uint8_t* rest = keys + keys_bytes;
  int ie = 0, iu = 0, ib = 0;
  int64_t row0 = 0;
  for (int k = 0; k < nfuse; k++) {
    const pgpq_fuse_col* f = &fuse[k];
    const int c = f->col;
    const size_t* lay = j->layout + 3 * c;
    const bool nulls = j->h_stats[ST_NULLS(c)] > 0;
    if (f->op == PGPQ_FUSE_BYTES) {
      const uint8_t* data = d->cols[c].nidx >= 0 ? j->d_nout + j->nlayout[d->cols[c].nidx] : j->d_out + lay[2];
      pgpq_fuse_bytes_desc(h_bytes + bsz * ib, (const int32_t*)(j->d_out + lay[0]), data, nulls ? j->d_out + lay[1] : NULL,
                           rows, base + f->frag, (int64_t*)(base + f->stats), (int32_t*)(base + f->stats + 8));
      ib++;
    } else if (f->op == PGPQ_FUSE_PLAIN) {
      pgpq_enc_col ec;
      memset(&ec, 0, sizeof ec);
      ec.values = j->d_out + lay[0];
      ec.valid = nulls ? j->d_out + lay[1] : NULL;
      ec.n = rows;
      ec.width = f->width;
      ec.kind = f->kind;
      ec.nullable = 0;
      ec.out_width = f->out_width;
      ec.page_rows = rows > 0 ? rows : 1;
      ec.out = f->frag >= 0 ? base + f->frag : NULL;
      ec.page_cap = ec.page_rows * pgpq_plain_width(f->kind, f->width, f->out_width);
      ec.sizes = (int64_t*)(base + f->stats);
      ec.nulls = (int64_t*)(base + f->stats + 8);
      ec.mins = base + f->stats + 16;
      ec.maxs = base + f->stats + 32;
      ec.has = base + f->stats + 48;
      pgpq_fuse_enc_desc(h_enc + esz * ie, &ec, ie);
      ie++;
    } else {
      const size_t slots = fuse_slots(rows);
      const uint8_t* data = d->cols[c].nidx >= 0 ? j->d_nout + j->nlayout[d->cols[c].nidx] : j->d_out + lay[2];
      unsigned long long* kk = (unsigned long long*)keys;
      keys += fuse_align(slots * 8);
      int32_t* mins = (int32_t*)rest;
      rest += fuse_align(slots * 4);
      int32_t* slot = (int32_t*)rest;
      rest += fuse_align((size_t)(rows > 0 ? rows : 1) * 4);
      int32_t* first = (int32_t*)rest;
      rest += fuse_align((size_t)(rows > 0 ? rows : 1) * 4);
      int32_t* ids = (int32_t*)(base + f->first);
      pgpq_fuse_uniq_desc(h_uniq + usz * iu, (const int32_t*)(j->d_out + lay[0]), data, nulls ? j->d_out + lay[1] : NULL,
                          rows, row0, kk, mins, slot, slots - 1, first, ids + rows, ids, ids + rows + 2, ids + rows + 1);
      row0 += rows;
      iu++;
    }
  }
  cudaStream_t s = j->stream;
  // Mins are cleared with the slots after them (0x7f bytes: larger than any row).
  if ((e = cudaMemsetAsync(base, 0, mirror, s)) != cudaSuccess ||
      (keys_bytes && (e = cudaMemsetAsync(d_descs + descs, 0xff, keys_bytes, s)) != cudaSuccess) ||
      (tables > keys_bytes && (e = cudaMemsetAsync(d_descs + descs + keys_bytes, 0x7f, tables - keys_bytes, s)) != cudaSuccess) ||
      (e = cudaMemcpyAsync(d_descs, j->h_fdesc, descs, cudaMemcpyHostToDevice, s)) != cudaSuccess) {
    return e;
  }
  if ((e = pgpq_fuse_launch_enc(d_descs, nenc, nenc, s)) != cudaSuccess ||
      (e = pgpq_fuse_launch_uniq(d_descs + fuse_align(esz * nenc), nuniq, row0, s)) != cudaSuccess ||
      (e = pgpq_fuse_launch_bytes(d_descs + fuse_align(esz * nenc) + fuse_align(usz * nuniq), nbytes, s)) != cudaSuccess) {
    return e;
  }
  if (host_bytes > 0) e = cudaMemcpyAsync(host, base, (size_t)host_bytes, cudaMemcpyDeviceToHost, s);
  return e;
}

// pgpq_finish_fused is pgpq_finish that, with arena (pinned, arena_bytes: pgpq_job_layout's
// total), first copies the job's device output into it in one piece (the caller then passes
// NULL for the buffers that lie there); and that also runs, in the same wait, the work nfuse
// columns ask for (pgpq_fuse_col: a fixed-width column's PLAIN fragment and statistics, a
// string column's rows grouped by value) on the columns just decoded, on the device, and
// copies its results into host (pinned, host_bytes) in one piece. A bad column description
// fails the call.
int pgpq_finish_fused(void* jh, uint8_t** vals, uint8_t** valid, uint8_t** vardata, uint8_t** lists, uint8_t* arena,
                      int64_t arena_bytes, const pgpq_fuse_col* fuse, int nfuse, uint8_t* host, int64_t host_bytes,
                      int32_t* bad, char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_FINISH);
  pgpq_job* j = (pgpq_job*)jh;
  pgpq_decoder* d = j->dec;
  int ncols = d->ncols;
  int64_t rows = j->rows;
  cudaStream_t s = j->stream;
  cudaError_t e = cudaSuccess;
  size_t bitmap = (size_t)((rows + 7) / 8);
  if (d->nlist > 0) {
    e = list_prepare(j);
    if (e == cudaSuccess) e = list_launch(j);
  }
  if (e == cudaSuccess && d->nnum > 0) {
    e = num_prepare(j);
    if (e == cudaSuccess) e = num_launch(j);
  }
  char ferr[256] = "";
  if (e == cudaSuccess && nfuse > 0) e = fuse_launch(j, fuse, nfuse, host, host_bytes, ferr, sizeof ferr);
  if (e == cudaSuccess && arena && arena_bytes > 0) {
    int64_t want = 0;
    pgpq_job_layout(j, j->h_lay, &want);
    if (arena_bytes < want) {
      snprintf(ferr, sizeof ferr, "pgpq_finish_fused: an arena of %lld bytes for an output of %lld", (long long)arena_bytes,
               (long long)want);
      e = cudaErrorInvalidValue;
    } else {
      e = cudaMemcpyAsync(arena, j->d_out, (size_t)want, cudaMemcpyDeviceToHost, s);
    }
  }
  if (e != cudaSuccess && ferr[0]) {
    cudaStreamSynchronize(s);
    snprintf(err, errlen, "%s", ferr);
    job_put(j);
    return -1;
  }
  for (int c = 0; c < ncols && e == cudaSuccess; c++) {
    pgpq_col col = d->cols[c];
    const size_t* sz = j->sizes + 3 * c;
    if (!col.on_gpu) {
      if (sz[0] && vals[c]) e = cudaMemcpyAsync(vals[c], j->d_out + j->layout[3 * c], sz[0], cudaMemcpyDeviceToHost, s);
      continue;
    }
    if (col.list) {
      const size_t n = (size_t)j->h_stats[ST_ELEMS(c)], eb = (size_t)j->h_stats[ST_EBYTES(c)];
      const size_t* lay = j->llayout + 3 * col.lidx;
      const size_t ebits = (n + 7) / 8;
      const size_t evals = col.elem_op == PGPQ_EL_STRING ? 4 * (n + 1) : col.elem_op == PGPQ_EL_BOOL ? ebits : (size_t)col.elem_width * n;
      uint8_t* dst[5] = {vals[c], valid[c], lists[c], lists[ncols + c], lists[2 * ncols + c]};
      const uint8_t* src[5] = {j->d_out + j->layout[3 * c], j->d_out + j->layout[3 * c + 1], j->d_lout + lay[0],
                               j->d_lout + lay[1], j->d_lout + lay[2]};
      const size_t len[5] = {sz[0], bitmap, ebits, evals, eb};
      for (int k = 0; k < 5 && e == cudaSuccess; k++)
        if (len[k] && dst[k]) e = cudaMemcpyAsync(dst[k], src[k], len[k], cudaMemcpyDeviceToHost, s);
      continue;
    }
    if (col.nidx >= 0) {
      const size_t nb = (size_t)j->h_stats[ST_VAR(c)];
      if (sz[0] && vals[c]) e = cudaMemcpyAsync(vals[c], j->d_out + j->layout[3 * c], sz[0], cudaMemcpyDeviceToHost, s);
      if (e == cudaSuccess && valid[c] && bitmap) e = cudaMemcpyAsync(valid[c], j->d_out + j->layout[3 * c + 1], bitmap, cudaMemcpyDeviceToHost, s);
      if (e == cudaSuccess && nb && vardata[c]) e = cudaMemcpyAsync(vardata[c], j->d_nout + j->nlayout[col.nidx], nb, cudaMemcpyDeviceToHost, s);
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
// scan, copy, list and numeric text kernels run iters times; *ms is the mean time of one pass (CUDA events).
int pgpq_bench_kernels(void* h, const uint8_t* data, int64_t nbytes, const uint32_t* starts, int64_t rows, int iters,
                       float* ms, char* err, int errlen) {
  pgpq_decoder* d = (pgpq_decoder*)h;
  cudaError_t e = cudaSuccess;
  pgpq_job* j = job_get(d, &e);
  if (!j) { set_err(err, errlen, "bench: new stream", e); return -1; }
  e = run(j, data, nbytes, starts, rows, true);  // upload and warm up
  if (e == cudaSuccess && (d->nlist > 0 || d->nnum > 0)) {  // the outputs' layout, the same every pass
    e = cudaStreamSynchronize(j->stream);
    if (e == cudaSuccess && d->nlist > 0) e = list_prepare(j);
    if (e == cudaSuccess && d->nnum > 0) e = num_prepare(j);
  }
  if (e == cudaSuccess) e = cudaEventRecord(j->ev0, j->stream);
  for (int i = 0; i < iters && e == cudaSuccess; i++) {
    e = run(j, data, nbytes, starts, rows, false);
    if (e == cudaSuccess && d->nlist > 0) e = list_launch(j);
    if (e == cudaSuccess && d->nnum > 0) e = num_launch(j);
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
