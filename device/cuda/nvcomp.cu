// nvcomp.cu: Zstandard compression of Parquet pages on the GPU with nvCOMP's batched API.
//
// Built into libpgparquet_cuda.so with pgcopy.cu. nvCOMP itself is not linked: pgpq_zstd_open
// dlopens libnvcomp.so.6 (from the nvidia-libnvcomp-cu13 wheel or a system path, as the Go side
// finds it) and resolves the four functions it uses, so the library loads where nvCOMP is absent.
//
// One batcher owns one stream and fixed buffers: pinned host input (the pages, cut into chunks
// of at most PGPQ_ZSTD_CHUNK bytes by the Go side, chunk i at in[offs[i]], sizes[i] bytes, each
// start aligned as nvCOMP requires), pinned host output (chunk i's frame at out[i * slot], its
// size then in sizes[i]), and their device twins.
// Each chunk becomes one complete zstd frame; a page is the concatenation of its chunks' frames,
// which is a valid zstd stream (RFC 8878, section 3: frames are concatenated). A batcher is used
// by one thread at a time (the Go side serializes its calls).
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvcomp/zstd.h>

#define PGPQ_ZSTD_CHUNK 65536

typedef nvcompStatus_t (*zstd_align_fn)(nvcompBatchedZstdCompressOpts_t, nvcompAlignmentRequirements_t*);
typedef nvcompStatus_t (*zstd_temp_fn)(size_t, size_t, nvcompBatchedZstdCompressOpts_t, size_t*, size_t, cudaStream_t);
typedef nvcompStatus_t (*zstd_maxout_fn)(size_t, nvcompBatchedZstdCompressOpts_t, size_t*);
typedef nvcompStatus_t (*zstd_compress_fn)(const void* const*, const size_t*, size_t, size_t, void*, size_t,
                                           void* const*, size_t*, nvcompBatchedZstdCompressOpts_t,
                                           nvcompStatus_t*, cudaStream_t);

struct pgpq_zstd {
  void* nvcomp;
  zstd_compress_fn compress;
  cudaStream_t stream;
  int32_t max_chunks;
  int64_t max_bytes;
  size_t slot;  // bytes reserved per chunk's output
  int64_t align;  // of each chunk's start in in
  size_t temp_bytes;
  // Pinned host memory, shared with the Go side.
  uint8_t* in;
  uint8_t* out;
  int64_t* offs;   // max_chunks + 1
  size_t* sizes;   // max_chunks
  // Pinned staging of the device pointer and size arrays.
  void** h_in_ptrs;
  size_t* h_in_sizes;
  void** h_out_ptrs;
  nvcompStatus_t* h_status;
  // Device memory.
  uint8_t* d_in;
  uint8_t* d_out;
  void** d_in_ptrs;
  size_t* d_in_sizes;
  void** d_out_ptrs;
  size_t* d_out_sizes;
  nvcompStatus_t* d_status;
  void* d_temp;
};

static int zerr(char* err, int errlen, const char* what, cudaError_t e) {
  snprintf(err, errlen, "%s: %s", what, cudaGetErrorString(e));
  return -1;
}

extern "C" {

void pgpq_zstd_close(pgpq_zstd* z);

// pgpq_zstd_open loads nvCOMP from nvcomp_path and sets up a batcher for up to max_chunks chunks
// and max_bytes input bytes per batch on the current device. It returns NULL with err set on
// failure (no nvCOMP, no device, out of memory).
pgpq_zstd* pgpq_zstd_open(const char* nvcomp_path, int32_t max_chunks, int64_t max_bytes, char* err, int errlen) {
  pgpq_zstd* z = (pgpq_zstd*)calloc(1, sizeof(pgpq_zstd));
  if (!z) {
    snprintf(err, errlen, "out of host memory");
    return NULL;
  }
  z->max_chunks = max_chunks;
  z->max_bytes = max_bytes;
  z->nvcomp = dlopen(nvcomp_path, RTLD_NOW | RTLD_LOCAL);
  if (!z->nvcomp) {
    const char* e = dlerror();
    snprintf(err, errlen, "load nvCOMP: %s", e ? e : "dlopen failed");
    free(z);
    return NULL;
  }
  zstd_align_fn align = (zstd_align_fn)dlsym(z->nvcomp, "nvcompBatchedZstdCompressGetRequiredAlignments");
  zstd_temp_fn temp = (zstd_temp_fn)dlsym(z->nvcomp, "nvcompBatchedZstdCompressGetTempSize");
  zstd_maxout_fn maxout = (zstd_maxout_fn)dlsym(z->nvcomp, "nvcompBatchedZstdCompressGetMaxOutputChunkSize");
  z->compress = (zstd_compress_fn)dlsym(z->nvcomp, "nvcompBatchedZstdCompressAsync");
  if (!align || !temp || !maxout || !z->compress) {
    snprintf(err, errlen, "%s: missing nvcompBatchedZstd* symbols (nvCOMP 5 or later is needed)", nvcomp_path);
    pgpq_zstd_close(z);
    return NULL;
  }
  nvcompBatchedZstdCompressOpts_t opts;
  memset(&opts, 0, sizeof(opts));
  nvcompAlignmentRequirements_t req;
  if (align(opts, &req) != nvcompSuccess || maxout(PGPQ_ZSTD_CHUNK, opts, &z->slot) != nvcompSuccess) {
    snprintf(err, errlen, "nvCOMP zstd: cannot size the buffers");
    pgpq_zstd_close(z);
    return NULL;
  }
  size_t a = req.output > 8 ? req.output : 8;
  z->slot = (z->slot + a - 1) / a * a;
  z->align = req.input > 16 ? (int64_t)req.input : 16;
  cudaError_t e;
  if ((e = cudaStreamCreateWithFlags(&z->stream, cudaStreamNonBlocking)) != cudaSuccess) {
    zerr(err, errlen, "create stream", e);
    pgpq_zstd_close(z);
    return NULL;
  }
  if (temp(max_chunks, PGPQ_ZSTD_CHUNK, opts, &z->temp_bytes, max_bytes, z->stream) != nvcompSuccess) {
    snprintf(err, errlen, "nvCOMP zstd: cannot size the temporary memory");
    pgpq_zstd_close(z);
    return NULL;
  }
  size_t outBytes = z->slot * (size_t)max_chunks;
  struct {
    void** p;
    size_t n;
    int host;
  } allocs[] = {
      {(void**)&z->in, (size_t)max_bytes, 1},
      {(void**)&z->out, outBytes, 1},
      {(void**)&z->offs, sizeof(int64_t) * (max_chunks + 1), 1},
      {(void**)&z->sizes, sizeof(size_t) * max_chunks, 1},
      {(void**)&z->h_in_ptrs, sizeof(void*) * max_chunks, 1},
      {(void**)&z->h_in_sizes, sizeof(size_t) * max_chunks, 1},
      {(void**)&z->h_out_ptrs, sizeof(void*) * max_chunks, 1},
      {(void**)&z->h_status, sizeof(nvcompStatus_t) * max_chunks, 1},
      {(void**)&z->d_in, (size_t)max_bytes, 0},
      {(void**)&z->d_out, outBytes, 0},
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
      pgpq_zstd_close(z);
      return NULL;
    }
  }
  for (int32_t i = 0; i < max_chunks; i++) z->h_out_ptrs[i] = z->d_out + (size_t)i * z->slot;
  if ((e = cudaMemcpyAsync(z->d_out_ptrs, z->h_out_ptrs, sizeof(void*) * max_chunks, cudaMemcpyHostToDevice, z->stream)) != cudaSuccess ||
      (e = cudaStreamSynchronize(z->stream)) != cudaSuccess) {
    zerr(err, errlen, "set up compression", e);
    pgpq_zstd_close(z);
    return NULL;
  }
  return z;
}

// pgpq_zstd_buffers hands the Go side the pinned buffers it fills and reads, the output slot
// size and the alignment of chunk starts.
void pgpq_zstd_buffers(pgpq_zstd* z, uint8_t** in, uint8_t** out, int64_t** offs, size_t** sizes, int64_t* slot, int64_t* align) {
  *in = z->in;
  *out = z->out;
  *offs = z->offs;
  *sizes = z->sizes;
  *slot = (int64_t)z->slot;
  *align = z->align;
}

// pgpq_zstd_run compresses chunks 0..n-1 (chunk i at in[offs[i]], sizes[i] bytes, 1 to
// PGPQ_ZSTD_CHUNK; offs[i] a multiple of the alignment pgpq_zstd_buffers gives) into
// out[i * slot], and writes each frame's size over sizes[i]. 0 on success; -1 with err set
// when a CUDA call or a chunk failed (the caller then compresses on the CPU).
int pgpq_zstd_run(pgpq_zstd* z, int32_t n, char* err, int errlen) {
  if (n < 1 || n > z->max_chunks) {
    snprintf(err, errlen, "compress: bad batch of %d chunks", n);
    return -1;
  }
  int64_t end = 0;
  for (int32_t i = 0; i < n; i++) {
    int64_t off = z->offs[i], len = (int64_t)z->sizes[i];
    if (len < 1 || len > PGPQ_ZSTD_CHUNK || off < 0 || off % z->align != 0 || off + len > z->max_bytes) {
      snprintf(err, errlen, "compress: chunk %d at %lld has %lld bytes", i, (long long)off, (long long)len);
      return -1;
    }
    z->h_in_ptrs[i] = z->d_in + off;
    z->h_in_sizes[i] = (size_t)len;
    if (off + len > end) end = off + len;
  }
  cudaError_t e;
  cudaStream_t s = z->stream;
  if ((e = cudaMemcpyAsync(z->d_in, z->in, (size_t)end, cudaMemcpyHostToDevice, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->d_in_ptrs, z->h_in_ptrs, sizeof(void*) * n, cudaMemcpyHostToDevice, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->d_in_sizes, z->h_in_sizes, sizeof(size_t) * n, cudaMemcpyHostToDevice, s)) != cudaSuccess) {
    return zerr(err, errlen, "copy pages to the device", e);
  }
  // nvCOMP runs on its own CUDA runtime (libnvcomp links one; this library has another): the
  // pages must be on the device before it is called, whatever it makes of the stream.
  if ((e = cudaStreamSynchronize(s)) != cudaSuccess) return zerr(err, errlen, "copy pages to the device", e);
  nvcompBatchedZstdCompressOpts_t opts;
  memset(&opts, 0, sizeof(opts));
  nvcompStatus_t st = z->compress((const void* const*)z->d_in_ptrs, z->d_in_sizes, PGPQ_ZSTD_CHUNK, (size_t)n, z->d_temp,
                                  z->temp_bytes, (void* const*)z->d_out_ptrs, z->d_out_sizes, opts, z->d_status, s);
  if (st != nvcompSuccess) {
    snprintf(err, errlen, "nvcompBatchedZstdCompressAsync: status %d", (int)st);
    return -1;
  }
  if ((e = cudaStreamSynchronize(s)) != cudaSuccess || (e = cudaGetLastError()) != cudaSuccess) {
    return zerr(err, errlen, "compress on the device", e);
  }
  if ((e = cudaMemcpyAsync(z->sizes, z->d_out_sizes, sizeof(size_t) * n, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->h_status, z->d_status, sizeof(nvcompStatus_t) * n, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaMemcpyAsync(z->out, z->d_out, z->slot * (size_t)n, cudaMemcpyDeviceToHost, s)) != cudaSuccess ||
      (e = cudaStreamSynchronize(s)) != cudaSuccess) {
    return zerr(err, errlen, "copy compressed pages from the device", e);
  }
  for (int32_t i = 0; i < n; i++) {
    if (z->h_status[i] != nvcompSuccess || z->sizes[i] == 0 || z->sizes[i] > z->slot) {
      snprintf(err, errlen, "compress: chunk %d failed (status %d, %zu bytes)", i, (int)z->h_status[i], z->sizes[i]);
      return -1;
    }
  }
  return 0;
}

// pgpq_zstd_close frees the batcher; nvCOMP stays mapped (unloading CUDA code is unsafe).
void pgpq_zstd_close(pgpq_zstd* z) {
  if (!z) return;
  if (z->stream) cudaStreamSynchronize(z->stream);
  void* host[] = {z->in, z->out, z->offs, z->sizes, z->h_in_ptrs, z->h_in_sizes, z->h_out_ptrs, z->h_status};
  for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++)
    if (host[i]) cudaFreeHost(host[i]);
  void* dev[] = {z->d_in, z->d_out, z->d_in_ptrs, z->d_in_sizes, z->d_out_ptrs, z->d_out_sizes, z->d_status, z->d_temp};
  for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++)
    if (dev[i]) cudaFree(dev[i]);
  if (z->stream) cudaStreamDestroy(z->stream);
  free(z);
}

}  // extern "C"
