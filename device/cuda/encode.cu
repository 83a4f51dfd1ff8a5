// encode.cu: Parquet data pages of fixed-width columns encoded on the GPU, the first piece of
// the GPU writer. Built into libpgparquet_cuda.so with pgcopy.cu and nvcomp.cu.
//
// pgpq_encode_plain encodes one column chunk (Arrow layout: n values of width bytes, and an
// Arrow validity bitmap or none) into pages of page_rows rows, exactly as the CPU twin
// pqfile.PlainPages does: per page, for a nullable column the definition levels as one
// bit-packed run of the RLE/bit-packed hybrid (bit width 1) after a 4-byte little-endian
// length, then the non-NULL values PLAIN; and per page the NULL count, and the min and max of
// the non-NULL values (NaN left out; a zero min is -0.0 and a zero max +0.0, as parquet-mr
// writes them). One thread block encodes one page: a block-wide scan places the non-NULL
// values, block-wide reductions give the statistics.
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
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
  if (width == 4) {
    int32_t v;
    memcpy(&v, values + row * 4, 4);
    return (int64_t)v;
  }
  int64_t v;
  memcpy(&v, values + row * 8, 8);
  return v;
}

template <bool FLOAT>
__global__ void encode_plain(const uint8_t* values, const uint8_t* valid, int64_t n, int width, int nullable,
                             int64_t page_rows, uint8_t* out, int64_t page_cap, int64_t* sizes, uint8_t* mins,
                             uint8_t* maxs, int64_t* nulls, uint8_t* has) {
  typedef cub::BlockScan<int, PGPQ_ENC_THREADS> Scan;
  typedef cub::BlockReduce<int64_t, PGPQ_ENC_THREADS> ReduceI;
  typedef cub::BlockReduce<double, PGPQ_ENC_THREADS> ReduceF;
  __shared__ union {
    typename Scan::TempStorage scan;
    typename ReduceI::TempStorage ri;
    typename ReduceF::TempStorage rf;
  } tmp;
  __shared__ int64_t base;

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

  int64_t my_nulls = 0;
  bool my_has = false;
  int64_t imin = INT64_MAX, imax = INT64_MIN;
  double fmin = INFINITY, fmax = -INFINITY;
  for (int64_t tile = start; tile < end; tile += blockDim.x) {
    const int64_t r = tile + threadIdx.x;
    const int flag = r < end && is_valid(valid, r) ? 1 : 0;
    if (r < end && !flag) my_nulls++;
    int pos, total;
    Scan(tmp.scan).ExclusiveSum(flag, pos, total);
    if (flag) {
      memcpy(dst + head + (base + pos) * width, values + r * width, width);
      if (FLOAT) {
        const double v = load_f<FLOAT>(values, r, width);
        if (!isnan(v)) {
          fmin = fmin < v ? fmin : v;
          fmax = fmax > v ? fmax : v;
          my_has = true;
        }
      } else {
        const int64_t v = load_i(values, r, width);
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
  uint8_t* mn = mins + page * 8;
  uint8_t* mx = maxs + page * 8;
  if (FLOAT) {
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
    has[page] = any > 0 ? 1 : 0;
  }
}

int fail(char* err, int errlen, const char* what, cudaError_t e) {
  snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
  return -1;
}

}  // namespace

extern "C" {

// pgpq_encode_plain: see the top of this file. values (n * width bytes), valid (NULL: no
// NULLs) and the outputs are host memory; pages = max(1, ceil(n / page_rows)); out holds
// pages * page_cap bytes (page_cap at least 4 + 10 + ceil(page_rows / 8) + page_rows * width),
// mins and maxs 8 bytes per page, sizes and nulls one int64 and has one byte per page;
// kernel_ms (when not NULL) gets the kernel's own time, copies left out. Returns 0, or -1
// with err set.
int pgpq_encode_plain(const uint8_t* values, const uint8_t* valid, int64_t n, int32_t width, int32_t is_float,
                      int32_t nullable, int64_t page_rows, uint8_t* out, int64_t page_cap, int64_t* sizes, uint8_t* mins,
                      uint8_t* maxs, int64_t* nulls, uint8_t* has, float* kernel_ms, char* err, int errlen) {
  if ((width != 4 && width != 8) || page_rows < 1 || n < 0 || page_cap < 4 + 10 + (page_rows + 7) / 8 + page_rows * width) {
    snprintf(err, errlen, "encode: bad arguments (width %d, %lld rows per page, page capacity %lld)", width,
             (long long)page_rows, (long long)page_cap);
    return -1;
  }
  const int64_t pages = n == 0 ? 1 : (n + page_rows - 1) / page_rows;
  uint8_t *d_values = nullptr, *d_valid = nullptr, *d_out = nullptr, *d_mins = nullptr, *d_maxs = nullptr, *d_has = nullptr;
  int64_t *d_sizes = nullptr, *d_nulls = nullptr;
  cudaError_t e = cudaSuccess;
  int rc = 0;
  const size_t vbytes = (size_t)(n > 0 ? n : 1) * width, bbytes = (size_t)(n + 7) / 8 + 1;
  if ((e = cudaMalloc(&d_values, vbytes)) != cudaSuccess || (e = cudaMalloc(&d_out, (size_t)pages * page_cap)) != cudaSuccess ||
      (e = cudaMalloc(&d_mins, pages * 8)) != cudaSuccess || (e = cudaMalloc(&d_maxs, pages * 8)) != cudaSuccess ||
      (e = cudaMalloc(&d_has, pages)) != cudaSuccess || (e = cudaMalloc(&d_sizes, pages * 8)) != cudaSuccess ||
      (e = cudaMalloc(&d_nulls, pages * 8)) != cudaSuccess || (valid && (e = cudaMalloc(&d_valid, bbytes)) != cudaSuccess)) {
    rc = fail(err, errlen, "encode: allocate device memory", e);
    goto done;
  }
  if ((n > 0 && (e = cudaMemcpy(d_values, values, (size_t)n * width, cudaMemcpyHostToDevice)) != cudaSuccess) ||
      (valid && n > 0 && (e = cudaMemcpy(d_valid, valid, (size_t)(n + 7) / 8, cudaMemcpyHostToDevice)) != cudaSuccess)) {
    rc = fail(err, errlen, "encode: copy the column to the device", e);
    goto done;
  }
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0);
  cudaEventCreate(&t1);
  cudaEventRecord(t0);
  if (is_float)
    encode_plain<true><<<(unsigned)pages, PGPQ_ENC_THREADS>>>(d_values, d_valid, n, width, nullable, page_rows, d_out, page_cap,
                                                              d_sizes, d_mins, d_maxs, d_nulls, d_has);
  else
    encode_plain<false><<<(unsigned)pages, PGPQ_ENC_THREADS>>>(d_values, d_valid, n, width, nullable, page_rows, d_out, page_cap,
                                                               d_sizes, d_mins, d_maxs, d_nulls, d_has);
  cudaEventRecord(t1);
  if ((e = cudaGetLastError()) != cudaSuccess || (e = cudaDeviceSynchronize()) != cudaSuccess) {
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    rc = fail(err, errlen, "encode: run the kernel", e);
    goto done;
  }
  if (kernel_ms) cudaEventElapsedTime(kernel_ms, t0, t1);
  cudaEventDestroy(t0);
  cudaEventDestroy(t1);
  if ((e = cudaMemcpy(out, d_out, (size_t)pages * page_cap, cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(sizes, d_sizes, pages * 8, cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(mins, d_mins, pages * 8, cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(maxs, d_maxs, pages * 8, cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(nulls, d_nulls, pages * 8, cudaMemcpyDeviceToHost)) != cudaSuccess ||
      (e = cudaMemcpy(has, d_has, pages, cudaMemcpyDeviceToHost)) != cudaSuccess) {
    rc = fail(err, errlen, "encode: copy the pages back", e);
  }
done:
  cudaFree(d_values);
  cudaFree(d_valid);
  cudaFree(d_out);
  cudaFree(d_mins);
  cudaFree(d_maxs);
  cudaFree(d_has);
  cudaFree(d_sizes);
  cudaFree(d_nulls);
  return rc;
}

}  // extern "C"
