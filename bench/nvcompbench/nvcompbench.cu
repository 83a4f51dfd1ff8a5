// nvcompbench measures nvCOMP's batched zstd compression on the GPU host, to find what bounds
// the GPU writer's page compression (bench/README.md, session 15): how a batch's time grows with
// its chunks and their size, whether the temporary buffer's sizing matters, whether batches on
// several streams overlap, and whether the launch call blocks on other streams' work.
//
// Usage: nvcompbench CORPUS [CORPUS...]   (files of uncompressed Parquet pages; each is tiled
// on the device to fill the chunks). Build on the GPU host:
//   nvcc -O3 -arch=sm_90 -I NVCOMP/include -o nvcompbench nvcompbench.cu -L NVCOMP/lib64 -l:libnvcomp.so.6
#include <cuda_runtime.h>
#include <nvcomp/zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));       \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)
#define NV(x)                                                                                   \
  do {                                                                                          \
    nvcompStatus_t s_ = (x);                                                                    \
    if (s_ != nvcompSuccess) {                                                                  \
      fprintf(stderr, "%s:%d %s: nvcomp status %d\n", __FILE__, __LINE__, #x, (int)s_);         \
      exit(1);                                                                                  \
    }                                                                                           \
  } while (0)

static double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

__global__ void spin(long long cycles) {
  long long t0 = clock64();
  while (clock64() - t0 < cycles) {
  }
}

// One batch: n chunks of s bytes taken from the corpus on the device, its own stream, temp and
// output.
struct Batch {
  size_t n, s, temp_bytes, out_slot;
  void** d_in;
  size_t* d_in_sizes;
  void** d_out;
  size_t* d_out_sizes;
  nvcompStatus_t* d_status;
  void* temp;
  uint8_t* out;
  cudaStream_t st;
  cudaEvent_t e0, e1;
};

static const nvcompBatchedZstdCompressOpts_t opts = nvcompBatchedZstdCompressDefaultOpts;

static Batch make_batch(const uint8_t* d_corpus, size_t corpus, size_t n, size_t s, size_t temp_chunks, size_t temp_total,
                        size_t first) {
  Batch b{};
  b.n = n;
  b.s = s;
  CK(cudaStreamCreateWithFlags(&b.st, cudaStreamNonBlocking));
  CK(cudaEventCreate(&b.e0));
  CK(cudaEventCreate(&b.e1));
  NV(nvcompBatchedZstdCompressGetMaxOutputChunkSize(s, opts, &b.out_slot));
  b.out_slot = (b.out_slot + 15) & ~(size_t)15;
  NV(nvcompBatchedZstdCompressGetTempSize(temp_chunks, s, opts, &b.temp_bytes, temp_total, b.st));
  CK(cudaMalloc(&b.temp, std::max<size_t>(b.temp_bytes, 16)));
  CK(cudaMalloc(&b.out, b.out_slot * n));
  std::vector<void*> in(n), out(n);
  std::vector<size_t> sz(n, s);
  size_t span = corpus - s;
  for (size_t i = 0; i < n; i++) {
    size_t off = ((first + i) * s) % span;
    off &= ~(size_t)15;
    in[i] = (void*)(d_corpus + off);
    out[i] = b.out + i * b.out_slot;
  }
  CK(cudaMalloc(&b.d_in, n * sizeof(void*)));
  CK(cudaMalloc(&b.d_out, n * sizeof(void*)));
  CK(cudaMalloc(&b.d_in_sizes, n * sizeof(size_t)));
  CK(cudaMalloc(&b.d_out_sizes, n * sizeof(size_t)));
  CK(cudaMalloc(&b.d_status, n * sizeof(nvcompStatus_t)));
  CK(cudaMemcpy(b.d_in, in.data(), n * sizeof(void*), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b.d_out, out.data(), n * sizeof(void*), cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b.d_in_sizes, sz.data(), n * sizeof(size_t), cudaMemcpyHostToDevice));
  return b;
}

static void free_batch(Batch& b) {
  cudaFree(b.temp);
  cudaFree(b.out);
  cudaFree(b.d_in);
  cudaFree(b.d_out);
  cudaFree(b.d_in_sizes);
  cudaFree(b.d_out_sizes);
  cudaFree(b.d_status);
  cudaEventDestroy(b.e0);
  cudaEventDestroy(b.e1);
  cudaStreamDestroy(b.st);
}

// launch enqueues the batch's compression on its stream between its two events and returns
// the host time the launch call itself took (ms).
static double launch(Batch& b) {
  CK(cudaEventRecord(b.e0, b.st));
  double t0 = now_ms();
  NV(nvcompBatchedZstdCompressAsync((const void* const*)b.d_in, b.d_in_sizes, b.s, b.n, b.temp, b.temp_bytes, b.d_out,
                                    b.d_out_sizes, opts, b.d_status, b.st));
  double t = now_ms() - t0;
  CK(cudaEventRecord(b.e1, b.st));
  return t;
}

// Timing is the median of a batch's launch call (host ms) and of its time on the device (ms).
struct Timing {
  double launch_ms, gpu_ms;
};

// time_batch runs b once to warm up, then 5 times, and returns the medians.
static Timing time_batch(Batch& b) {
  launch(b);
  CK(cudaStreamSynchronize(b.st));
  std::vector<double> g, l;
  for (int k = 0; k < 5; k++) {
    l.push_back(launch(b));
    CK(cudaStreamSynchronize(b.st));
    float ms;
    CK(cudaEventElapsedTime(&ms, b.e0, b.e1));
    g.push_back(ms);
  }
  std::sort(g.begin(), g.end());
  std::sort(l.begin(), l.end());
  return {l[2], g[2]};
}

static size_t out_bytes(Batch& b) {
  std::vector<size_t> sz(b.n);
  CK(cudaMemcpy(sz.data(), b.d_out_sizes, b.n * sizeof(size_t), cudaMemcpyDeviceToHost));
  size_t t = 0;
  for (size_t v : sz) t += v;
  return t;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: nvcompbench CORPUS...\n");
    return 2;
  }
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  printf("device %s, %d SMs\n", p.name, p.multiProcessorCount);
  for (int f = 1; f < argc; f++) {
    FILE* fp = fopen(argv[f], "rb");
    if (!fp) {
      perror(argv[f]);
      return 1;
    }
    std::vector<uint8_t> h;
    uint8_t buf[1 << 16];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, fp)) > 0) h.insert(h.end(), buf, buf + r);
    fclose(fp);
    uint8_t* d_corpus;
    CK(cudaMalloc(&d_corpus, h.size()));
    CK(cudaMemcpy(d_corpus, h.data(), h.size(), cudaMemcpyHostToDevice));
    size_t corpus = h.size();
    printf("\n== corpus %s: %zu bytes\n", argv[f], corpus);

    // 1. One batch at a time: time by chunks and chunk size (median of 5 after a warm-up).
    printf("-- one batch at a time: chunk KiB, chunks, MB, launch ms (host), GPU ms, GB/s, ratio\n");
    for (size_t s : {16u << 10, 32u << 10, 64u << 10, 128u << 10, 256u << 10}) {
      for (size_t n : {1, 16, 64, 216, 512, 1024, 4096, 16384}) {
        if (n * s >= (size_t)2 << 30) continue;  // 2 GiB or more in one batch faults inside nvCOMP 6
        Batch b = make_batch(d_corpus, corpus, n, s, n, n * s, 0);
        Timing t = time_batch(b);
        size_t ob = out_bytes(b);
        printf("%4zu %6zu %8.1f %7.3f %8.3f %7.2f %6.3f\n", s >> 10, n, n * s / 1e6, t.launch_ms, t.gpu_ms, n * s / t.gpu_ms / 1e6,
               (double)ob / (n * s));
        fflush(stdout);
        free_batch(b);
      }
    }

    // 2. Temporary buffer sized for far more than the batch (as a batcher sized for its
    // largest batch does).
    printf("-- temp sizing: chunk 128 KiB, 216 chunks; temp for (chunks, total MB): GPU ms, temp MB\n");
    for (size_t tc : {216, 1024, 16384}) {
      Batch b = make_batch(d_corpus, corpus, 216, 128 << 10, tc, tc * (128 << 10), 0);
      printf("(%zu, %.0f) %8.3f %8.1f\n", tc, tc * (128 << 10) / 1e6, time_batch(b).gpu_ms, b.temp_bytes / 1e6);
      free_batch(b);
    }

    // 3. K batches on K streams at once: wall from the first launch to the last done.
    printf("-- K streams at once: chunk KiB, chunks per batch, K, wall ms, aggregate GB/s, sum of launch ms\n");
    for (size_t s : {32u << 10, 64u << 10, 128u << 10}) {
      for (size_t n : {64, 216, 1024}) {
        for (int K : {1, 2, 4, 8, 16}) {
          std::vector<Batch> bs;
          for (int k = 0; k < K; k++) bs.push_back(make_batch(d_corpus, corpus, n, s, n, n * s, (size_t)k * n));
          for (auto& b : bs) launch(b);
          CK(cudaDeviceSynchronize());
          double best = 1e9, lsum = 0;
          for (int rep = 0; rep < 3; rep++) {
            double t0 = now_ms(), ls = 0;
            for (auto& b : bs) ls += launch(b);
            CK(cudaDeviceSynchronize());
            double t = now_ms() - t0;
            if (t < best) {
              best = t;
              lsum = ls;
            }
          }
          printf("%4zu %5zu %3d %8.3f %7.2f %7.3f\n", s >> 10, n, K, best, K * n * s / best / 1e6, lsum);
          fflush(stdout);
          for (auto& b : bs) free_batch(b);
        }
      }
    }

    // 4. Does the launch wait for other streams? A 200 ms spin on one stream, then a batch on
    // another: the launch's host time and when the batch ran.
    printf("-- launch behind a 200 ms kernel on another stream\n");
    {
      Batch b = make_batch(d_corpus, corpus, 216, 128 << 10, 216, 216 * (128 << 10), 0);
      launch(b);
      CK(cudaDeviceSynchronize());
      cudaStream_t other;
      CK(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
      int khz = 0;
      CK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0));
      long long cycles = (long long)khz * 200;  // kHz * ms
      cudaEvent_t s0;
      CK(cudaEventCreate(&s0));
      CK(cudaEventRecord(s0, other));
      spin<<<1, 1, 0, other>>>(cycles);
      double t0 = now_ms();
      double l = launch(b);
      double tl = now_ms() - t0;
      CK(cudaStreamSynchronize(b.st));
      double tb = now_ms() - t0;
      CK(cudaStreamSynchronize(other));
      double to = now_ms() - t0;
      float start, end;
      CK(cudaEventElapsedTime(&start, s0, b.e0));
      CK(cudaEventElapsedTime(&end, s0, b.e1));
      printf("launch call %.3f ms (incl. events %.3f); batch done at %.1f ms, spin done at %.1f ms; batch ran %.1f-%.1f ms after the spin began\n",
             l, tl, tb, to, start, end);
      free_batch(b);
      cudaStreamDestroy(other);
    }
    cudaFree(d_corpus);
  }
  return 0;
}
