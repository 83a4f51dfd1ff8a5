// nvcomp.cu: compression of Parquet pages on the GPU with nvCOMP's batched API: zstd, LZ4 (raw
// blocks, Parquet's LZ4_RAW), snappy (raw snappy) and deflate (raw, wrapped as gzip by the Go
// side); with nvCOMP 6 headers also gzip members (tests only, so far).
//
// Built into libpgparquet_cuda.so with pgcopy.cu. nvCOMP itself is not linked: pgpq_nv_open
// dlopens libnvcomp.so.6 (from the nvidia-libnvcomp-cu13 wheel or a system path, as the Go side
// finds it) and resolves the four functions of the codec it uses, so the library loads where
// nvCOMP is absent.
//
// One batcher owns one codec, one stream and buffers: device input (chunk i at
// offs[i], sizes[i] bytes, each start aligned as nvCOMP requires), copied there from the
// pages' own host buffers (pgpq_nv_run_packed), device output (chunk i's compressed bytes at
// d_out[i * slot]), packed on the device and copied to pinned host output (the chunks' bytes
// one after the other, chunk i's size in sizes[i]).
// The Go side cuts the pages into chunks:
//   - zstd: chunks of at most chunk_max (PGPQ_ZSTD_CHUNK) bytes, each compressed into one
//     complete zstd frame; a page is the concatenation of its chunks' frames, a valid zstd
//     stream (RFC 8878, section 3: frames are concatenated). Every batch is sized for chunks of
//     chunk_max bytes, so slot is fixed.
//   - LZ4, snappy, deflate: raw LZ4 blocks, raw snappy and raw deflate streams cannot be
//     joined, so each page is one chunk of at most chunk_max bytes (as libcudf does). Each batch
//     is sized for its largest chunk: slot = the bound of that chunk, so a batch of n chunks
//     whose largest has m bytes needs n * slot of output, which out_cap (computed at open for
//     every n with n * m <= max_bytes) holds.
// A batcher is used by one thread at a time (the Go side serializes its calls).
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvcomp/deflate.h>
#include <nvcomp/lz4.h>
#include <nvcomp/snappy.h>
#include <nvcomp/version.h>
#include <nvcomp/zstd.h>
#if NVCOMP_VER_MAJOR >= 6
// nvCOMP 6 compresses gzip members itself (CRC on the device): PGPQ_GZIP, which the GPU tests
// compare with PGPQ_DEFLATE framed on the CPU.
#include <nvcomp/gzip.h>
#define PGPQ_HAVE_GZIP 1
static const size_t pgpq_gzip_limit = nvcompGzipCompressionMaxAllowedChunkSize;
#else
static const size_t pgpq_gzip_limit = 0;
#endif

#include "faults.h"     // take_fault
#include "callstats.h"  // after the CUDA headers: counts the runtime calls below

// The codecs, as the Go side names them (device/codecs.go, nvZstd...).
enum { PGPQ_ZSTD = 0, PGPQ_LZ4 = 1, PGPQ_SNAPPY = 2, PGPQ_DEFLATE = 3, PGPQ_GZIP = 4 };

struct pgpq_nv {
  int32_t codec;
  void* nvcomp;
  // nvCOMP's functions for codec, called through nv_call with the codec's options type.
  void* fn_align;
  void* fn_temp;
  void* fn_maxout;
  void* fn_compress;
  cudaStream_t stream;
  int32_t max_chunks;
  int64_t max_bytes;
  int64_t chunk_max;
  size_t slot;      // bytes reserved per chunk's device output: fixed for zstd, per batch for the others
  size_t out_cap;   // bytes of d_out and d_packed: n chunks' slots
  size_t host_cap;  // bytes of out: grows when a batch's compressed bytes need more
  size_t out_align;
  int64_t align;   // of each chunk's start in the input
  size_t temp_bytes;
  // Pinned host memory, shared with the Go side.
  uint8_t* out;  // the batch's compressed chunks, packed
  int64_t* h_total;
  int64_t* offs;  // max_chunks + 1
  size_t* sizes;  // max_chunks
  // Pinned staging of the device pointer and size arrays.
  void** h_in_ptrs;
  size_t* h_in_sizes;
  void** h_out_ptrs;
  nvcompStatus_t* h_status;
  // Device memory.
  uint8_t* d_in;
  uint8_t* d_out;
  uint8_t* d_packed;     // the compressed chunks one after the other
  int64_t* d_pack_offs;  // where each starts in d_packed; [n] the total
  void** d_in_ptrs;
  size_t* d_in_sizes;
  void** d_out_ptrs;
  size_t* d_out_sizes;
  nvcompStatus_t* d_status;
  void* d_temp;
};

#ifdef PGPQ_MEASURE_NV
// Measurement builds only (nvcc -DPGPQ_MEASURE_NV; never the shipped library, whose output
// this corrupts): $PGPARQUET_MEASURE_NV bit 1 skips copying the pages to the device, bit 2
// skips nvCOMP (each chunk "compresses" to a fifth of its bytes, whatever the device output
// slot holds), bit 4 gives nvCOMP only the first 79% of each chunk, so that a run of the
// pipeline alone tells what the copies and what nvCOMP's kernels cost it, and what fewer page
// bytes would save.
static int measure_nv(void) {
  static int mode = -1;
  if (mode < 0) {
    const char* s = getenv("PGPARQUET_MEASURE_NV");
    mode = s ? atoi(s) : 0;
    fprintf(stderr, "pgpq: measurement build, PGPARQUET_MEASURE_NV=%d\n", mode);
  }
  return mode;
}

__global__ void measure_sizes(const size_t* in, size_t* out, nvcompStatus_t* status, int32_t n, size_t slot) {
  int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  size_t m = in[i] / 5 + 1;
  out[i] = m < slot ? m : slot;
  status[i] = nvcompSuccess;
}
#else
static int measure_nv(void) { return 0; }
#endif

static int zerr(char* err, int errlen, const char* what, cudaError_t e) {
  snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
  return -1;
}

// nv_call calls f with the compression options of codec: nvCOMP's defaults (zstd: all zero, as
// before; LZ4: bytes, no bitshuffle; deflate: algorithm 1, high throughput).
template <typename F>
static nvcompStatus_t nv_call(int32_t codec, F f) {
  switch (codec) {
    case PGPQ_ZSTD: {
      nvcompBatchedZstdCompressOpts_t o;
      memset(&o, 0, sizeof(o));
      return f(o);
    }
    case PGPQ_LZ4:
      return f(nvcompBatchedLZ4CompressDefaultOpts);
    case PGPQ_SNAPPY:
      return f(nvcompBatchedSnappyCompressDefaultOpts);
    case PGPQ_DEFLATE:
      return f(nvcompBatchedDeflateCompressDefaultOpts);
#ifdef PGPQ_HAVE_GZIP
    case PGPQ_GZIP:
      return f(nvcompBatchedGzipCompressDefaultOpts);
#endif
  }
  return nvcompErrorNotSupported;
}

static nvcompStatus_t nv_align(const pgpq_nv* z, nvcompAlignmentRequirements_t* req) {
  return nv_call(z->codec, [&](auto o) {
    typedef nvcompStatus_t (*fn)(decltype(o), nvcompAlignmentRequirements_t*);
    return ((fn)z->fn_align)(o, req);
  });
}

static nvcompStatus_t nv_maxout(const pgpq_nv* z, size_t chunk, size_t* out) {
  return nv_call(z->codec, [&](auto o) {
    typedef nvcompStatus_t (*fn)(size_t, decltype(o), size_t*);
    return ((fn)z->fn_maxout)(chunk, o, out);
  });
}

static nvcompStatus_t nv_temp(const pgpq_nv* z, size_t* temp) {
  return nv_call(z->codec, [&](auto o) {
    typedef nvcompStatus_t (*fn)(size_t, size_t, decltype(o), size_t*, size_t, cudaStream_t);
    return ((fn)z->fn_temp)((size_t)z->max_chunks, (size_t)z->chunk_max, o, temp, (size_t)z->max_bytes, z->stream);
  });
}

static nvcompStatus_t nv_compress(const pgpq_nv* z, size_t n, size_t max_chunk) {
  return nv_call(z->codec, [&](auto o) {
    typedef nvcompStatus_t (*fn)(const void* const*, const size_t*, size_t, size_t, void*, size_t, void* const*, size_t*,
                                 decltype(o), nvcompStatus_t*, cudaStream_t);
    return ((fn)z->fn_compress)((const void* const*)z->d_in_ptrs, z->d_in_sizes, max_chunk, n, z->d_temp, z->temp_bytes,
                                (void* const*)z->d_out_ptrs, z->d_out_sizes, o, z->d_status, z->stream);
  });
}

// slot_for is the output reserved per chunk in a batch whose largest chunk has m bytes.
static int slot_for(const pgpq_nv* z, size_t m, size_t* slot) {
  if (nv_maxout(z, m, slot) != nvcompSuccess) return -1;
  *slot = (*slot + z->out_align - 1) / z->out_align * z->out_align;
  return 0;
}

// pack_offsets sets offs[i] to where chunk i's compressed bytes start once packed (the sum of
// the sizes before it) and offs[n] to their total; one block of 1024 threads. A size above
// slot (a chunk that failed; the host refuses the batch) counts as 0, so nothing is written
// past the packed buffer.
__global__ void pack_offsets(const size_t* sizes, int32_t n, size_t slot, int64_t* offs) {
  __shared__ int64_t part[1024];
  int t = threadIdx.x;
  int per = (n + blockDim.x - 1) / blockDim.x;
  int lo = t * per, hi = min(n, lo + per);
  int64_t sum = 0;
  for (int i = lo; i < hi; i++) sum += sizes[i] > slot ? 0 : (int64_t)sizes[i];
  part[t] = sum;
  __syncthreads();
  for (int d = 1; d < (int)blockDim.x; d <<= 1) {  // inclusive scan of the threads' sums
    int64_t v = t >= d ? part[t - d] : 0;
    __syncthreads();
    part[t] += v;
    __syncthreads();
  }
  int64_t at = t > 0 ? part[t - 1] : 0;
  for (int i = lo; i < hi; i++) {
    offs[i] = at;
    at += sizes[i] > slot ? 0 : (int64_t)sizes[i];
  }
  if (t == (int)blockDim.x - 1) offs[n] = part[t];
}

// pack_chunks copies chunk blockIdx.x's compressed bytes from its slot of out to packed.
__global__ void pack_chunks(const uint8_t* out, size_t slot, const size_t* sizes, const int64_t* offs, uint8_t* packed) {
  size_t i = blockIdx.x, n = sizes[i];
  if (n > slot) return;
  const uint8_t* src = out + i * slot;
  uint8_t* dst = packed + offs[i];
  for (size_t j = threadIdx.x; j < n; j += blockDim.x) dst[j] = src[j];
}

// Faults to inject, for tests of the Go side's fallback (pgpq_inject_nv_faults): the next this
// many pgpq_nv_run_packed calls fail as a CUDA error would, once their work was done and their
// output copied back. Test-only process state.
static int g_fail_nv = 0;

extern "C" {

void pgpq_nv_close(pgpq_nv* z);

// pgpq_nv_open loads nvCOMP from nvcomp_path and sets up a batcher of codec (PGPQ_*) for up to
// max_chunks chunks of at most chunk_max bytes and max_bytes input bytes (padding included) per
// batch on the current device. It returns NULL with err set on failure (no nvCOMP, a codec or
// chunk size this nvCOMP does not have, no device, out of memory).
pgpq_nv* pgpq_nv_open(int32_t codec, const char* nvcomp_path, int32_t max_chunks, int64_t chunk_max, int64_t max_bytes,
                      char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
  static const char* names[] = {"Zstd", "LZ4", "Snappy", "Deflate", "Gzip"};
  static const size_t limits[] = {nvcompZstdCompressionMaxAllowedChunkSize, nvcompLZ4CompressionMaxAllowedChunkSize,
                                  nvcompSnappyCompressionMaxAllowedChunkSize, nvcompDeflateCompressionMaxAllowedChunkSize,
                                  pgpq_gzip_limit};
  if (codec < PGPQ_ZSTD || codec > PGPQ_GZIP || limits[codec] == 0) {
    snprintf(err, errlen, "GPU compression: no codec %d in this build (gzip needs nvCOMP 6 headers)", codec);
    return NULL;
  }
  if (max_chunks < 1 || chunk_max < 1 || max_bytes < chunk_max || (size_t)chunk_max > limits[codec]) {
    snprintf(err, errlen, "nvCOMP %s: bad batch of %d chunks of %lld bytes (at most %zu), %lld in all", names[codec], max_chunks,
             (long long)chunk_max, limits[codec], (long long)max_bytes);
    return NULL;
  }
  pgpq_nv* z = (pgpq_nv*)calloc(1, sizeof(pgpq_nv));
  if (!z) {
    snprintf(err, errlen, "out of host memory");
    return NULL;
  }
  z->codec = codec;
  z->max_chunks = max_chunks;
  z->chunk_max = chunk_max;
  z->max_bytes = max_bytes;
  z->nvcomp = dlopen(nvcomp_path, RTLD_NOW | RTLD_LOCAL);
  if (!z->nvcomp) {
    const char* e = dlerror();
    snprintf(err, errlen, "load nvCOMP: %s", e ? e : "dlopen failed");
    free(z);
    return NULL;
  }
  char sym[128];
  void** fns[] = {&z->fn_align, &z->fn_temp, &z->fn_maxout, &z->fn_compress};
  const char* suffix[] = {"CompressGetRequiredAlignments", "CompressGetTempSize", "CompressGetMaxOutputChunkSize", "CompressAsync"};
  for (int i = 0; i < 4; i++) {
    snprintf(sym, sizeof(sym), "nvcompBatched%s%s", names[codec], suffix[i]);
    if (!(*fns[i] = dlsym(z->nvcomp, sym))) {
      snprintf(err, errlen, "%s: no %s (nvCOMP 5 or later is needed)", nvcomp_path, sym);
      pgpq_nv_close(z);
      return NULL;
    }
  }
  nvcompAlignmentRequirements_t req;
  nvcompStatus_t st;
  if ((st = nv_align(z, &req)) != nvcompSuccess) {
    snprintf(err, errlen, "nvCOMP %s: alignments: status %d", names[codec], (int)st);
    pgpq_nv_close(z);
    return NULL;
  }
  z->out_align = req.output > 8 ? req.output : 8;
  z->align = req.input > 16 ? (int64_t)req.input : 16;
  if (slot_for(z, (size_t)chunk_max, &z->slot) != 0) {
    snprintf(err, errlen, "nvCOMP %s: cannot bound the output of a chunk of %lld bytes", names[codec], (long long)chunk_max);
    pgpq_nv_close(z);
    return NULL;
  }
  if (codec == PGPQ_ZSTD) {
    z->out_cap = z->slot * (size_t)max_chunks;
  } else {
    // The most output any batch needs: n chunks whose largest has m <= max_bytes / n bytes.
    for (int32_t n = 1; n <= max_chunks; n++) {
      size_t m = (size_t)(max_bytes / n), slot;
      if (m > (size_t)chunk_max) m = (size_t)chunk_max;
      if (m == 0) break;
      if (slot_for(z, m, &slot) != 0) {
        snprintf(err, errlen, "nvCOMP %s: cannot bound the output of a chunk of %zu bytes", names[codec], m);
        pgpq_nv_close(z);
        return NULL;
      }
      if (slot * (size_t)n > z->out_cap) z->out_cap = slot * (size_t)n;
    }
  }
  cudaError_t e;
  if ((e = cudaStreamCreateWithFlags(&z->stream, cudaStreamNonBlocking)) != cudaSuccess) {
    zerr(err, errlen, "create stream", e);
    pgpq_nv_close(z);
    return NULL;
  }
  if ((st = nv_temp(z, &z->temp_bytes)) != nvcompSuccess) {
    snprintf(err, errlen, "nvCOMP %s: cannot size the temporary memory (status %d)", names[codec], (int)st);
    pgpq_nv_close(z);
    return NULL;
  }
  // Pinned output for a quarter of a batch's input (zstd pages compress to 20-35%), grown by
  // the batch that needs more. Not a quarter of the device's output slots: those are sized for
  // the worst case of every chunk (zstd: 1280 slots of 128 KiB, 170 MB), and a quarter of them
  // per batcher was 170 MB of pinned memory, RSS, at 4 batchers (wide on the H200, s15g).
  size_t quarter = (size_t)max_bytes / 4;
  if (quarter > z->out_cap / 4) quarter = z->out_cap / 4;
  z->host_cap = quarter > ((size_t)1 << 20) ? quarter : ((size_t)1 << 20);
  if (z->host_cap > z->out_cap) z->host_cap = z->out_cap;
  struct {
    void** p;
    size_t n;
    int host;
  } allocs[] = {
      {(void**)&z->out, z->host_cap, 1},
      {(void**)&z->h_total, sizeof(int64_t), 1},
      {(void**)&z->offs, sizeof(int64_t) * (max_chunks + 1), 1},
      {(void**)&z->sizes, sizeof(size_t) * max_chunks, 1},
      {(void**)&z->h_in_ptrs, sizeof(void*) * max_chunks, 1},
      {(void**)&z->h_in_sizes, sizeof(size_t) * max_chunks, 1},
      {(void**)&z->h_out_ptrs, sizeof(void*) * max_chunks, 1},
      {(void**)&z->h_status, sizeof(nvcompStatus_t) * max_chunks, 1},
      {(void**)&z->d_in, (size_t)max_bytes, 0},
      {(void**)&z->d_out, z->out_cap, 0},
      {(void**)&z->d_packed, z->out_cap, 0},
      {(void**)&z->d_pack_offs, sizeof(int64_t) * (max_chunks + 1), 0},
      {(void**)&z->d_in_ptrs, sizeof(void*) * max_chunks, 0},
      {(void**)&z->d_in_sizes, sizeof(size_t) * max_chunks, 0},
      {(void**)&z->d_out_ptrs, sizeof(void*) * max_chunks, 0},
      {(void**)&z->d_out_sizes, sizeof(size_t) * max_chunks, 0},
      {(void**)&z->d_status, sizeof(nvcompStatus_t) * max_chunks, 0},
      {(void**)&z->d_temp, z->temp_bytes > 0 ? z->temp_bytes : 1, 0},
  };
  for (size_t i = 0; i < sizeof(allocs) / sizeof(allocs[0]); i++) {
    e = allocs[i].host ? cudaMallocHost(allocs[i].p, allocs[i].n) : cudaMalloc(allocs[i].p, allocs[i].n);
    if (e != cudaSuccess) {
      zerr(err, errlen, allocs[i].host ? "allocate pinned memory for compression" : "allocate device memory for compression", e);
      pgpq_nv_close(z);
      return NULL;
    }
  }
  if (codec == PGPQ_ZSTD) {
    // Fixed slots: the output pointers are set once.
    for (int32_t i = 0; i < max_chunks; i++) z->h_out_ptrs[i] = z->d_out + (size_t)i * z->slot;
    if ((e = cudaMemcpyAsync(z->d_out_ptrs, z->h_out_ptrs, sizeof(void*) * max_chunks, cudaMemcpyHostToDevice, z->stream)) != cudaSuccess ||
        (e = cudaStreamSynchronize(z->stream)) != cudaSuccess) {
      zerr(err, errlen, "set up compression", e);
      pgpq_nv_close(z);
      return NULL;
    }
  }
  return z;
}

// pgpq_nv_buffers hands the Go side the pinned buffers it fills and reads, the capacity of out
// and the alignment of chunk starts. out changes when a run grows it.
void pgpq_nv_buffers(pgpq_nv* z, uint8_t** out, int64_t** offs, size_t** sizes, int64_t* out_cap, int64_t* align) {
  *out = z->out;
  *offs = z->offs;
  *sizes = z->sizes;
  *out_cap = (int64_t)z->host_cap;
  *align = z->align;
}

// pgpq_nv_run_packed compresses chunks 0..n-1 (chunk i at offs[i] of the batch's input,
// sizes[i] bytes, 1 to chunk_max; offs[i] a multiple of the alignment pgpq_nv_buffers gives)
// into out, packed (chunk i right after chunk i-1; out grows when they need more, and
// pgpq_nv_buffers then gives its new address), and writes each chunk's compressed size over
// sizes[i] and the batch's device slot (the room each chunk had) into *slot. The input is npieces host buffers: piece k's plens[k] bytes at srcs[k] go
// to the input's byte poffs[k], each copied to the device straight from where it is (at full
// speed from pinned memory, through the driver's staging from pageable memory), so that the
// pages' bytes are never gathered on the host first. 0 on success; -1 with err set when a CUDA
// call or a chunk failed (the caller then compresses on the CPU).
int pgpq_nv_run_packed(pgpq_nv* z, int32_t n, int32_t npieces, const uint8_t* const* srcs, const int64_t* poffs,
                       const int64_t* plens, int64_t* slot_out, char* err, int errlen) {
  PGPQ_API_SCOPE(CS_API_NV_RUN);
  if (n < 1 || n > z->max_chunks) {
    snprintf(err, errlen, "compress: bad batch of %d chunks", n);
    return -1;
  }
  for (int32_t k = 0; k < npieces; k++) {
    if (poffs[k] < 0 || plens[k] < 0 || poffs[k] + plens[k] > z->max_bytes || (plens[k] > 0 && !srcs[k])) {
      snprintf(err, errlen, "compress: piece %d of %lld bytes at %lld", k, (long long)plens[k], (long long)poffs[k]);
      return -1;
    }
  }
  int64_t end = 0, largest = 0;
  for (int32_t i = 0; i < n; i++) {
    int64_t off = z->offs[i], len = (int64_t)z->sizes[i];
    if (len < 1 || len > z->chunk_max || off < 0 || off % z->align != 0 || off + len > z->max_bytes) {
      snprintf(err, errlen, "compress: chunk %d at %lld has %lld bytes", i, (long long)off, (long long)len);
      return -1;
    }
    z->h_in_ptrs[i] = z->d_in + off;
    z->h_in_sizes[i] = (size_t)len;
#ifdef PGPQ_MEASURE_NV
    // Bit 4: nvCOMP gets the first 79% of each chunk, as if the pages held 21% fewer bytes.
    if (measure_nv() & 4) z->h_in_sizes[i] = (size_t)(len * 79 / 100 > 0 ? len * 79 / 100 : 1);
#endif
    if (off + len > end) end = off + len;
    if (len > largest) largest = len;
  }
  // zstd: every batch as for chunks of chunk_max bytes (the fixed slots set at open). The
  // others: the output bound of this batch's largest chunk.
  size_t max_chunk = (size_t)z->chunk_max, slot = z->slot;
  if (z->codec != PGPQ_ZSTD) {
    max_chunk = (size_t)largest;
    if (slot_for(z, max_chunk, &slot) != 0 || slot * (size_t)n > z->out_cap) {
      snprintf(err, errlen, "compress: %d chunks of up to %zu bytes do not fit the output (%zu bytes)", n, max_chunk, z->out_cap);
      return -1;
    }
    for (int32_t i = 0; i < n; i++) z->h_out_ptrs[i] = z->d_out + (size_t)i * slot;
  }
  cudaError_t e;
  cudaStream_t s = z->stream;
  for (int32_t k = 0; k < npieces && !(measure_nv() & 1); k++) {
    if (plens[k] > 0 &&
        (e = cudaMemcpyAsync(z->d_in + poffs[k], srcs[k], (size_t)plens[k], cudaMemcpyHostToDevice, s)) != cudaSuccess) {
      cudaStreamSynchronize(s);
      return zerr(err, errlen, "copy pages to the device", e);
    }
  }
  if ((e = cudaMemcpyAsync(z->d_in_ptrs, z->h_in_ptrs, sizeof(void*) * n, cudaMemcpyHostToDevice, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->d_in_sizes, z->h_in_sizes, sizeof(size_t) * n, cudaMemcpyHostToDevice, s)) != cudaSuccess ||
      (z->codec != PGPQ_ZSTD &&
       (e = cudaMemcpyAsync(z->d_out_ptrs, z->h_out_ptrs, sizeof(void*) * n, cudaMemcpyHostToDevice, s)) != cudaSuccess)) {
    return zerr(err, errlen, "copy pages to the device", e);
  }
  // nvCOMP runs on its own CUDA runtime (libnvcomp links one; this library has another): the
  // pages must be on the device before it is called, whatever it makes of the stream.
  if ((e = cudaStreamSynchronize(s)) != cudaSuccess) return zerr(err, errlen, "copy pages to the device", e);
  nvcompStatus_t st = nvcompSuccess;
#ifdef PGPQ_MEASURE_NV
  if (measure_nv() & 2) {
    measure_sizes<<<(n + 255) / 256, 256, 0, s>>>(z->d_in_sizes, z->d_out_sizes, z->d_status, n, slot);
  } else
#endif
    st = PGPQ_TIMED(CS_NVCOMP, nv_compress(z, (size_t)n, max_chunk));
  if (st != nvcompSuccess) {
    snprintf(err, errlen, "nvCOMP compress (codec %d): status %d", z->codec, (int)st);
    return -1;
  }
  if ((e = cudaStreamSynchronize(s)) != cudaSuccess || (e = cudaGetLastError()) != cudaSuccess) {
    return zerr(err, errlen, "compress on the device", e);
  }
  // Only the compressed bytes cross back: packed on the device first, so the copy is a
  // quarter of the slots' size or less.
  pack_offsets<<<1, 1024, 0, s>>>(z->d_out_sizes, n, slot, z->d_pack_offs);
  pack_chunks<<<n, 256, 0, s>>>(z->d_out, slot, z->d_out_sizes, z->d_pack_offs, z->d_packed);
  if ((e = cudaGetLastError()) != cudaSuccess) return zerr(err, errlen, "pack compressed pages", e);
  if ((e = cudaMemcpyAsync(z->sizes, z->d_out_sizes, sizeof(size_t) * n, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->h_status, z->d_status, sizeof(nvcompStatus_t) * n, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->h_total, z->d_pack_offs + n, sizeof(int64_t), cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaStreamSynchronize(s)) != cudaSuccess) {
    return zerr(err, errlen, "copy compressed sizes from the device", e);
  }
  for (int32_t i = 0; i < n; i++) {
    if (z->h_status[i] != nvcompSuccess || z->sizes[i] == 0 || z->sizes[i] > slot) {
      snprintf(err, errlen, "compress: chunk %d failed (status %d, %zu bytes)", i, (int)z->h_status[i], z->sizes[i]);
      return -1;
    }
  }
  size_t total = (size_t)*z->h_total;
  if (total > z->host_cap) {
    size_t cap = (total + total / 4 + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    if (cap > z->out_cap) cap = z->out_cap;
    cudaFreeHost(z->out);
    z->out = NULL;
    z->host_cap = 0;
    if ((e = cudaMallocHost((void**)&z->out, cap)) != cudaSuccess) {
      z->out = NULL;  // cudaMallocHost leaves it undefined; close frees it
      return zerr(err, errlen, "grow the pinned output of compression", e);
    }
    z->host_cap = cap;
  }
  if ((e = cudaMemcpyAsync(z->out, z->d_packed, total, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaStreamSynchronize(s)) != cudaSuccess) {
    return zerr(err, errlen, "copy compressed pages from the device", e);
  }
  if (take_fault(&g_fail_nv)) return zerr(err, errlen, "compress: injected fault", cudaErrorLaunchFailure);
  *slot_out = (int64_t)slot;
  return 0;
}

// pgpq_inject_nv_faults makes the next runs calls of pgpq_nv_run_packed fail as if the device
// had failed, after their output was copied back: for tests; optional in the ABI.
void pgpq_inject_nv_faults(int runs) { __atomic_store_n(&g_fail_nv, runs, __ATOMIC_SEQ_CST); }

// pgpq_nv_close frees the batcher; nvCOMP stays mapped (unloading CUDA code is unsafe).
void pgpq_nv_close(pgpq_nv* z) {
  PGPQ_API_SCOPE(CS_API_OPEN_CLOSE);
  if (!z) return;
  if (z->stream) cudaStreamSynchronize(z->stream);
  void* host[] = {z->out, z->h_total, z->offs, z->sizes, z->h_in_ptrs, z->h_in_sizes, z->h_out_ptrs, z->h_status};
  for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
    if (host[i]) cudaFreeHost(host[i]);
  void* dev[] = {z->d_in, z->d_out, z->d_packed, z->d_pack_offs, z->d_in_ptrs, z->d_in_sizes, z->d_out_ptrs, z->d_out_sizes, z->d_status, z->d_temp};
  for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++)
    if (dev[i]) cudaFree(dev[i]);
  if (z->stream) cudaStreamDestroy(z->stream);
  free(z);
}

}  // extern "C"
