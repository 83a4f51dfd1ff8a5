//go:build cgo && linux

package device

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
	"github.com/pgparquet/pgparquet/pqfile"
)

// cudaLib loads the CUDA decoder named by $PGPARQUET_CUDA_LIB. Without it the GPU tests skip
// (CI has no GPU), unless $PGPARQUET_REQUIRE_GPU=1 (make test-gpu) makes that a failure.
func cudaLib(t testing.TB) *library {
	t.Helper()
	path := os.Getenv("PGPARQUET_CUDA_LIB")
	if path == "" {
		if os.Getenv("PGPARQUET_REQUIRE_GPU") == "1" {
			t.Fatal("PGPARQUET_REQUIRE_GPU=1 but PGPARQUET_CUDA_LIB is not set")
		}
		t.Skip("no GPU: set PGPARQUET_CUDA_LIB to libpgparquet_cuda.so on a GPU host (make test-gpu)")
	}
	lib, err := loadCUDA(path)
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// gpuAndCPU returns the library, a CUDA decoder (closed when the test ends) and a CPU decoder,
// both for copytest.RandomColumns. When the test ends, nothing the CUDA decoder allocated, from Go's
// allocator or pinned memory, may be left.
func gpuAndCPU(t *testing.T) (*library, *gpuDecoder, *gpuparse.CPUDecoder, []pgarrow.Column) {
	t.Helper()
	lib, gpu, cpu := gpuAndCPUFor(t, copytest.RandomColumns())
	return lib, gpu, cpu, copytest.RandomColumns()
}

// gpuAndCPUFor is gpuAndCPU for the columns cols.
func gpuAndCPUFor(t *testing.T, cols []pgarrow.Column) (*library, *gpuDecoder, *gpuparse.CPUDecoder) {
	t.Helper()
	lib := cudaLib(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	pinned := newPinnedAllocator(lib, func(err error) { t.Error(err) })
	gpu, err := lib.newDecoder(cols, gpuparse.NewCPUDecoder(cols, mem), pinned)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gpu.Close()
		if n := pinned.outstanding(); n != 0 {
			t.Errorf("%d bytes of pinned memory not freed", n)
		}
		pinned.freeAll()
		mem.AssertSize(t, 0)
	})
	return lib, gpu, gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator)
}

// TestGPUMatchesCPU decodes fresh random chunks with both decoders and requires identical
// batches, bit for bit, including zero-row and one-row chunks.
func TestGPUMatchesCPU(t *testing.T) {
	_, gpu, cpu, cols := gpuAndCPU(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	for _, rows := range []int{0, 1, 2, 31, 32, 33, 1000, 5000, 20000} {
		c := copytest.RandomChunk(rng, rows)
		want, err := cpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: CPU: %v", rows, err)
		}
		got, err := gpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: GPU: %v", rows, err)
		}
		for i := range cols {
			if err := copytest.SameArrays(want.Column(i), got.Column(i)); err != nil {
				t.Errorf("rows=%d column %s (%s): %v", rows, cols[i].Name, cols[i].Kind, err)
			}
		}
		want.Release()
		got.Release()
	}
	// Every chunk above holds NULLs, NaN and infinities in the numeric text column only, so
	// none needed the CPU fallback; a chunk with NaN in a decimal column does.
	if n := gpu.fallbacks.Load(); n != 0 {
		t.Errorf("%d chunks fell back to the CPU", n)
	}
	badFields := make([][]byte, len(cols))
	badFields[0], badFields[14] = copytest.Int64(1), copytest.Numeric("NaN") // n12
	data, starts := copytest.RowStarts(copytest.Tuple(badFields...))
	c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bad"}
	_, cerr := cpu.Decode(ctx, c)
	_, gerr := gpu.Decode(ctx, c)
	if cerr == nil || gerr == nil || cerr.Error() != gerr.Error() {
		t.Errorf("NaN in decimal: CPU %v, GPU %v; want the same error", cerr, gerr)
	}
	if gpu.fallbacks.Load() != 1 {
		t.Errorf("fallbacks = %d, want 1", gpu.fallbacks.Load())
	}
	// Row starts that do not match the tuples (a server that batched rows, or a receiver bug)
	// and missing row starts: the CPU decoder decides, so results and errors are the same.
	c = copytest.RandomChunk(rng, 100)
	var everyOther []uint32
	for i, s := range c.RowStarts {
		if i%2 == 0 {
			everyOther = append(everyOther, s)
		}
	}
	shifted := append([]uint32(nil), c.RowStarts...)
	shifted[50] += 2
	for _, tc := range []struct {
		name   string
		starts []uint32
	}{{"no row starts", nil}, {"two rows per message", everyOther}, {"a wrong row start", shifted}} {
		before := gpu.fallbacks.Load()
		in := &pgcopy.Chunk{Data: c.Data, RowStarts: tc.starts, Source: tc.name}
		want, werr := cpu.Decode(ctx, in)
		got, gerr := gpu.Decode(ctx, in)
		switch {
		case (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()):
			t.Errorf("%s: CPU error %v, GPU error %v", tc.name, werr, gerr)
		case werr == nil:
			for i := range cols {
				if err := copytest.SameArrays(want.Column(i), got.Column(i)); err != nil {
					t.Errorf("%s: column %s: %v", tc.name, cols[i].Name, err)
				}
			}
			want.Release()
			got.Release()
		}
		if gpu.fallbacks.Load() != before+1 {
			t.Errorf("%s: the GPU did not hand the chunk to the CPU decoder", tc.name)
		}
	}
}

// TestGPUCUDAErrorsFallBack injects device failures (one while decoding, one while copying the
// results back): each such chunk is reported and decoded on the CPU, so every batch still equals
// the CPU decoder's and no row is lost or duplicated.
func TestGPUCUDAErrorsFallBack(t *testing.T) {
	lib, gpu, cpu, cols := gpuAndCPU(t)
	var mu sync.Mutex
	var reported []string
	gpu.onCUDAError = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err.Error())
	}
	if !lib.injectFaults(1, 1) {
		t.Fatal("the CUDA library has no pgpq_inject_faults")
	}
	defer lib.injectFaults(0, 0)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	ctx := context.Background()
	for i := range 4 {
		c := copytest.RandomChunk(rng, 300)
		want, err := cpu.Decode(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		for ci := range cols {
			if err := copytest.SameArrays(want.Column(ci), got.Column(ci)); err != nil {
				t.Errorf("chunk %d column %s: %v", i, cols[ci].Name, err)
			}
		}
		want.Release()
		got.Release()
	}
	if len(reported) != 2 || !strings.Contains(reported[0], "pgpq_scan") || !strings.Contains(reported[1], "pgpq_finish") ||
		!strings.Contains(reported[0], "decoding it on the CPU") {
		t.Errorf("reported %q, want a scan failure then a finish failure", reported)
	}
	if gpu.fallbacks.Load() != 2 {
		t.Errorf("fallbacks = %d, want 2", gpu.fallbacks.Load())
	}
}

// TestGPUThroughput reports decode throughput of lineorder-shaped chunks (COPY bytes per
// second) for the GPU decoder, transfers included, and for the CPU decoder on all cores.
func TestGPUThroughput(t *testing.T) {
	lib := cudaLib(t)
	cols, data, starts := copytest.LineorderChunk(4 << 20 / 174)
	pinnedMem := newPinnedAllocator(lib, nil)
	defer pinnedMem.freeAll()
	gpu, err := lib.newDecoder(cols, gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator), pinnedMem)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	recv, ok := pinnedMem.tryAllocate(len(data))
	if !ok {
		t.Fatal("no pinned memory")
	}
	pinned := append(recv[:0], data...)
	ctx := context.Background()
	measure := func(name string, dec gpuparse.Decoder, input []byte, workers int, dur time.Duration) {
		var mu sync.Mutex
		var total int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int64
				for time.Since(start) < dur {
					rec, err := dec.Decode(ctx, &pgcopy.Chunk{Data: input, RowStarts: starts, Source: "bench"})
					if err != nil {
						t.Error(err)
						return
					}
					rec.Release()
					n += int64(len(input))
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		t.Logf("%-40s %8.2f GB/s (%d workers)", name, float64(total)/secs/1e9, workers)
	}
	for _, rows := range []int{4 << 20 / 174, 16 << 20 / 174, 64 << 20 / 174} {
		_, big, bigStarts := copytest.LineorderChunk(rows)
		secs, err := gpu.kernelSeconds(&pgcopy.Chunk{Data: big, RowStarts: bigStarts}, 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40s %8.2f GB/s (%d MB chunk)", "GPU kernels only (walk + decode)", float64(len(big))/secs/1e9, len(big)>>20)
	}
	measure("GPU decode, pinned input, transfers", gpu, pinned, 8, 3*time.Second)
	measure("GPU decode, pinned input, transfers", gpu, pinned, 16, 3*time.Second)
	measure("GPU decode, Go heap input, transfers", gpu, data, 16, 3*time.Second)
	measure("CPU decode, 1 core", gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator), data, 1, 3*time.Second)
	measure("CPU decode, all cores", gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator), data, runtime.NumCPU(), 3*time.Second)
	if gpu.fallbacks.Load() != 0 {
		t.Errorf("%d fallbacks", gpu.fallbacks.Load())
	}
}

// TestGPUStart goes the way an export does: Start probes the driver and loads the library,
// the Decoder switches to the GPU, hands out pinned receive buffers (and refuses Go ones), and
// gives the CPU decoder's batches; nothing is left allocated after Close.
func TestGPUStart(t *testing.T) {
	cudaLib(t) // skips without a GPU
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cols := copytest.RandomColumns()
	dec := Start(ModeOn, os.Getenv("PGPARQUET_CUDA_LIB"), nil).newDecoder(cols, mem)
	if err := dec.Wait(); err != nil {
		t.Fatal(err)
	}
	if dec.Path() != "gpu" {
		t.Fatalf("path %s after the start, want gpu", dec.Path())
	}
	recv := dec.Alloc(1 << 20)
	if cap(recv) < 1<<20 || !dec.Keep(recv) || dec.Keep(make([]byte, 0, 1<<20)) {
		t.Errorf("receive buffers: pinned kept %v, Go memory kept %v", dec.Keep(recv), dec.Keep(make([]byte, 0, 1<<20)))
	}
	cpu := gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	for _, rows := range []int{0, 1, 1000} {
		c := copytest.RandomChunk(rng, rows)
		c.Data = append(recv[:0], c.Data...)
		want, err := cpu.Decode(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		for ci := range cols {
			if err := copytest.SameArrays(want.Column(ci), got.Column(ci)); err != nil {
				t.Errorf("rows=%d column %s: %v", rows, cols[ci].Name, err)
			}
		}
		want.Release()
		got.Release()
	}
	if g := dec.gpu.Load(); g.pinned.outstanding() != int64(cap(recv)) {
		t.Errorf("%d bytes of pinned memory outstanding, want only the receive buffer's %d", g.pinned.outstanding(), cap(recv))
	}
	if err := dec.Close(); err != nil {
		t.Error(err)
	}
}

// TestGPUZstd compresses pages of every size and kind on the GPU (nvCOMP, found as exports
// find it) from many goroutines and decodes each on the CPU: each must come back exactly. It
// then times batches of 1 MiB pages against arrow-go's own codec.
func TestGPUZstd(t *testing.T) {
	spec := zstdDispatch.spec
	runners, path, err := openBatchers(cudaLib(t), spec, nvcompCandidates(), spec.batchers)
	if err != nil {
		t.Fatalf("no nvCOMP: %v", err)
	}
	t.Logf("nvCOMP: %s", path)
	// One page at a time first: every size and kind alone in its batch.
	one := newBatcher(spec, runners[:1], slog.Default())
	dec, _ := zstd.NewReader(nil)
	rng0 := rand.New(rand.NewPCG(5, 5))
	for _, size := range []int{1, minPage, zstdChunk, zstdChunk + 1, 1 << 20, 3<<20 + 17, batchBytes} {
		for kind := range 3 {
			src := randomPage(rng0, size, kind)
			got, err := one.compress(nil, src)
			if err != nil {
				t.Fatalf("page of %d bytes (kind %d) alone: %v", size, kind, err)
			}
			if plain, err := dec.DecodeAll(got, nil); err != nil || !bytes.Equal(plain, src) {
				dumpPage(spec, size, kind, src, got)
				t.Errorf("page of %d bytes (kind %d) alone: decoded %d bytes, %v", size, kind, len(plain), err)
			}
		}
	}
	g := newBatcher(spec, runners[1:], slog.Default())
	in, out := checkBatcher(t, g, zstdSizes, 40)
	t.Logf("GPU: %d pages in %d batches, %d bytes to %d (%.3f)", g.pages.Load(), g.batches.Load(), in, out, float64(out)/float64(in))

	pages := throughputPages()
	gbps, ratio := timeWriters(t, pages, 8, g.compress)
	t.Logf("GPU batcher: %.2f GB/s, ratio %.3f", gbps, ratio)
	gbps, ratio = timeWriters(t, pages, 8, func(dst, src []byte) ([]byte, error) {
		return zstdDispatch.Codec.EncodeLevel(dst, src, compress.DefaultCompressionLevel), nil
	})
	t.Logf("arrow-go zstd (CPU): %.2f GB/s, ratio %.3f", gbps, ratio)
}

// TestGPUZstdFaultFallsBack: a batch that fails on the device (injected: nvCOMP's run reports
// a failure once its output is back, pgpq_inject_nv_faults) sends its pages to the CPU, and
// every later one, with one warning: from 8 writers at once, each page, as one part or
// several, decodes to itself, and after the failure each is the CPU codec's bytes.
func TestGPUZstdFaultFallsBack(t *testing.T) {
	spec := zstdDispatch.spec
	lib := cudaLib(t)
	runners, _, err := openBatchers(lib, spec, nvcompCandidates(), 2)
	if err != nil {
		t.Fatalf("no nvCOMP: %v", err)
	}
	if !lib.injectNVFaults(1) {
		t.Fatal("this CUDA library has no pgpq_inject_nv_faults: rebuild it from device/cuda")
	}
	defer lib.injectNVFaults(0)
	var logged bytes.Buffer
	g := newBatcher(spec, runners, slog.New(slog.NewTextHandler(&logged, nil)))
	p := &pageCodec{Codec: zstdDispatch.Codec, spec: spec}
	p.gpu.Store(g)
	compressAtOnce(p, g, 8, 8, 13, func(w, i int, src, got []byte, failedBefore bool) {
		if plain, err := compress.Decode(arrowCodec(spec.codec), make([]byte, len(src)), got); err != nil || !bytes.Equal(plain, src) {
			t.Errorf("writer %d, page %d (%d bytes): decoded %d bytes, %v", w, i, len(src), len(plain), err)
		}
		if failedBefore && !bytes.Equal(got, p.encodeCPU(nil, src, compress.DefaultCompressionLevel)) {
			t.Errorf("writer %d, page %d: compressed after the failure, but not the CPU codec's bytes", w, i)
		}
	})
	if !g.failed.Load() {
		t.Fatal("no batch failed: the injected fault was not taken")
	}
	if n := strings.Count(logged.String(), "GPU compression failed"); n != 1 {
		t.Errorf("%d warnings of the failure, want 1:\n%s", n, logged.String())
	}
}

// dumpPage writes a page the CPU decoded wrongly into $PGPARQUET_DUMP_DIR, when set.
func dumpPage(spec *codecSpec, size, kind int, src, compressed []byte) {
	if dir := os.Getenv("PGPARQUET_DUMP_DIR"); dir != "" {
		name := fmt.Sprintf("%s/%s-page-%d-%d", dir, spec.name, size, kind)
		_ = os.WriteFile(name+".src", src, 0o644)
		_ = os.WriteFile(name+"."+spec.name, compressed, 0o644)
	}
}

// TestGPUCodecs checks each codec GPU compression takes (zstd, LZ4_RAW, snappy, gzip; and
// nvCOMP 6's own gzip members, gzipMembers, to compare) on the GPU: fresh random pages of every kind and of sizes from 1 byte to the largest the codec
// takes, alone in their batch and then from 16 goroutines at once, decoded by arrow-go's codec
// to exactly the page; a Parquet file written through the registered codec with the GPU
// batcher, read back by arrow-go equal to the same table written on the CPU (and left in
// $PGPARQUET_GPU_PARQUET_DIR, when set, for TestGPUParquetFiles to have pyarrow and DuckDB read
// it); then the batcher's throughput on about 1 GB of 1 MiB pages from 16 writers, against
// arrow-go's codec on the CPU. $PGPARQUET_GPU_QUICK=1 (compute-sanitizer) checks pages only.
func TestGPUCodecs(t *testing.T) {
	lib := cudaLib(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	quick := os.Getenv("PGPARQUET_GPU_QUICK") == "1"
	for _, spec := range append(specs[:len(specs):len(specs)], gzipMembers) {
		t.Run(spec.name, func(t *testing.T) {
			if spec.off != "" && os.Getenv("PGPARQUET_GPU_OFF_CODECS") != "1" {
				t.Skip(spec.off + " (PGPARQUET_GPU_OFF_CODECS=1 tries it)")
			}
			runners, path, err := openBatchers(lib, spec, nvcompCandidates(), spec.batchers)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer func() {
				for _, r := range runners {
					r.(*nvBatch).close()
				}
			}()
			t.Logf("nvCOMP: %s", path)
			dec := arrowCodec(spec.codec)
			one := newBatcher(spec, runners[:1], slog.Default())
			rng := rand.New(rand.NewPCG(seed, uint64(spec.nv)))
			sizes := append(pageSizes(spec), int(one.maxPage()))
			for _, size := range sizes {
				for kind := range 3 {
					src := randomPage(rng, size, kind)
					got, err := one.compress(nil, src)
					if err != nil {
						t.Fatalf("page of %d bytes (kind %d) alone: %v", size, kind, err)
					}
					if plain, err := compress.Decode(dec, make([]byte, len(src)), got); err != nil || !bytes.Equal(plain, src) {
						dumpPage(spec, size, kind, src, got)
						t.Errorf("page of %d bytes (kind %d) alone: decoded %d bytes, %v", size, kind, len(plain), err)
					}
				}
			}
			g := newBatcher(spec, runners[1:], slog.Default())
			pages := 12
			if quick {
				pages = 2
			}
			in, out := checkBatcher(t, g, pageSizes(spec), pages)
			t.Logf("GPU: %d pages in %d batches, %d bytes to %d (%.3f)", g.pages.Load(), g.batches.Load(), in, out, float64(out)/float64(max(in, 1)))
			if t.Failed() || quick {
				return
			}

			rec := testRecord(120000)
			defer rec.Release()
			dir := os.Getenv("PGPARQUET_GPU_PARQUET_DIR")
			if dir == "" {
				dir = t.TempDir()
			}
			// The reference without compression: with GPU compression on (TestGPUStart), the
			// registered codec would send its pages to the GPU too.
			cpuFile, gpuFile := filepath.Join(t.TempDir(), "ref.parquet"), filepath.Join(dir, "gpu-"+spec.name+".parquet")
			writeParquet(t, cpuFile, rec, compress.Codecs.Uncompressed)
			p := pageCodecFor(spec.codec)
			p.gpu.Store(g)
			before := g.pages.Load()
			writeParquet(t, gpuFile, rec, spec.codec)
			p.gpu.Store(nil)
			if g.pages.Load() == before {
				t.Error("no page of the Parquet file went to the GPU")
			}
			if !array.TableEqual(readArrowGo(t, cpuFile), readArrowGo(t, gpuFile)) {
				t.Error("arrow-go reads the GPU-compressed file differently")
			}
			cpuSize, gpuSize := fileSize(t, cpuFile), fileSize(t, gpuFile)
			t.Logf("Parquet file: %d pages on the GPU, %d bytes (uncompressed: %d)", g.pages.Load()-before, gpuSize, cpuSize)

			pages1M := throughputPages()
			perWriter := writersFor(t, pages1M, g.compress)
			gbps, ratio := timeWriters(t, pages1M, perWriter, g.compress)
			t.Logf("GPU batcher: %.2f GB/s, ratio %.3f (%d MiB)", gbps, ratio, 16*perWriter)
			cpu := func(dst, src []byte) ([]byte, error) {
				return dec.EncodeLevel(dst, src, compress.DefaultCompressionLevel), nil
			}
			perWriter = writersFor(t, pages1M, cpu)
			gbps, ratio = timeWriters(t, pages1M, perWriter, cpu)
			t.Logf("arrow-go %s (CPU, 16 writers): %.2f GB/s, ratio %.3f (%d MiB)", spec.name, gbps, ratio, 16*perWriter)
		})
	}
}

// writersFor is how many 1 MiB pages each of 16 writers compresses for about 1 GB in all, fewer
// where a first round of one page each says that would take more than 10 seconds.
func writersFor(t *testing.T, pages [][]byte, enc func(dst, src []byte) ([]byte, error)) int {
	start := time.Now()
	timeWriters(t, pages, 1, enc)
	per := 10 * time.Second / max(time.Since(start), time.Millisecond)
	return int(min(max(per, 1), 64))
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// throughputPages are 64 pages of 1 MiB, text-like and integer, for timing compressors.
func throughputPages() [][]byte {
	rng := rand.New(rand.NewPCG(9, 9))
	pages := make([][]byte, 64)
	for i := range pages {
		pages[i] = randomPage(rng, 1<<20, 1+i%2)
	}
	return pages
}

// timeWriters has 16 writers, as an export's lanes, compress perWriter of pages each with enc,
// and returns the GB/s of input and the ratio of output to input.
func timeWriters(t *testing.T, pages [][]byte, perWriter int, enc func(dst, src []byte) ([]byte, error)) (gbps, ratio float64) {
	t.Helper()
	start := time.Now()
	var total, outBytes atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for r := range perWriter {
				p := pages[(w*perWriter+r)%len(pages)]
				out, err := enc(nil, p)
				if err != nil {
					t.Error(err)
					return
				}
				outBytes.Add(int64(len(out)))
				total.Add(int64(len(p)))
			}
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds() / 1e9, float64(outBytes.Load()) / float64(max(total.Load(), 1))
}

// TestCompareExports compares the Parquet files of two exports of one table, in
// $PGPARQUET_COMPARE_A and $PGPARQUET_COMPARE_B (bench/gpuhost-zstd.sh sets them): the same rows
// per column, as a multiset (lanes write rows in different files and orders), by a sum of
// per-value hashes. It skips when they are not set.
func TestCompareExports(t *testing.T) {
	a, b := os.Getenv("PGPARQUET_COMPARE_A"), os.Getenv("PGPARQUET_COMPARE_B")
	if a == "" || b == "" {
		t.Skip("PGPARQUET_COMPARE_A and PGPARQUET_COMPARE_B name the exports to compare")
	}
	ha, ra := hashExport(t, a)
	hb, rb := hashExport(t, b)
	if ra != rb {
		t.Fatalf("%s has %d rows, %s %d", a, ra, b, rb)
	}
	for col, h := range ha {
		if hb[col] != h {
			t.Errorf("column %s differs between %s and %s", col, a, b)
		}
	}
	t.Logf("%d rows, %d columns: the same values", ra, len(ha))
}

// hashExport reads every part-*.parquet of dir (in parallel) and returns, per column, the sum
// of a hash of each row's value (with its row-independent form) and the row count.
func hashExport(t *testing.T, dir string) (map[string]uint64, int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if len(files) == 0 {
		t.Fatalf("no Parquet files in %s", dir)
	}
	var mu sync.Mutex
	sums := map[string]uint64{}
	var rows int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rdr, err := file.OpenParquetFile(f, true)
			if err != nil {
				t.Error(err)
				return
			}
			defer rdr.Close()
			fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
			if err != nil {
				t.Error(err)
				return
			}
			tbl, err := fr.ReadTable(context.Background())
			if err != nil {
				t.Errorf("read %s: %v", f, err)
				return
			}
			defer tbl.Release()
			local := map[string]uint64{}
			for i := range int(tbl.NumCols()) {
				col := tbl.Column(i)
				var sum uint64
				for _, chunk := range col.Data().Chunks() {
					for r := range chunk.Len() {
						h := fnv.New64a()
						h.Write([]byte(chunk.ValueStr(r)))
						sum += h.Sum64()
					}
				}
				local[col.Name()] = sum
			}
			mu.Lock()
			for k, v := range local {
				sums[k] += v
			}
			rows += tbl.NumRows()
			mu.Unlock()
		})
	}
	wg.Wait()
	return sums, rows
}

// TestGPUZstdTuning times the batcher on 1 MiB pages from 16 writers (an export's lanes) for
// several runner counts and lingers, with pages per batch and device time per batch: how to
// size them. It only reports.
func TestGPUZstdTuning(t *testing.T) {
	spec := zstdDispatch.spec
	runners, _, err := openBatchers(cudaLib(t), spec, nvcompCandidates(), 8)
	if err != nil {
		t.Skipf("no nvCOMP: %v", err)
	}
	pages := throughputPages()
	for _, n := range []int{1, 2, 4, 8} {
		for _, linger := range []time.Duration{0, 100 * time.Microsecond, 500 * time.Microsecond} {
			g := newBatcherLinger(spec, runners[:n], spec.batchBytes, spec.batchChunks, linger, slog.Default())
			gbps, _ := timeWriters(t, pages, 16, g.compress)
			b := max(g.batches.Load(), 1)
			t.Logf("runners %d linger %v: %.2f GB/s, %.1f pages/batch, %.2f ms in run per batch",
				n, linger, gbps, float64(g.pages.Load())/float64(b), float64(g.runNS.Load())/float64(b)/1e6)
		}
	}
}

// TestGPUZstdLatency measures one nvCOMP zstd batch (no batcher around it) by its number of
// chunks and their size, alone and with batches on other runners at the same time: how long
// a batch takes decides how many bytes must be in flight for a given rate. A measurement (it
// logs, checks only that every run succeeds); $PGPARQUET_GPU_LATENCY=1 runs it.
func TestGPUZstdLatency(t *testing.T) {
	if os.Getenv("PGPARQUET_GPU_LATENCY") != "1" {
		t.Skip("a measurement: set PGPARQUET_GPU_LATENCY=1")
	}
	spec := zstdDispatch.spec
	runners, _, err := openBatchers(cudaLib(t), spec, nvcompCandidates(), 4)
	if err != nil {
		t.Skipf("no nvCOMP: %v", err)
	}
	defer func() {
		for _, r := range runners {
			r.(*nvBatch).close()
		}
	}()
	src := bytes.Join(throughputPages(), nil)
	run := func(r chunkCompressor, n, chunk int) error {
		b := r.buffers()
		b.pieces = append(b.pieces[:0], piece{src: src[:n*chunk], off: 0})
		for i := range n {
			b.offs[i], b.sizes[i] = int64(i*chunk), uint64(chunk)
		}
		return r.run(n)
	}
	for _, chunk := range []int{32 << 10, 64 << 10, 128 << 10} {
		for _, n := range []int{1, 8, 32, 64, 128, 256} {
			if n*chunk > int(spec.batchBytes) || n > spec.batchChunks {
				continue
			}
			for _, conc := range []int{1, 4} {
				const reps = 5
				start := time.Now()
				var wg sync.WaitGroup
				for _, r := range runners[:conc] {
					wg.Go(func() {
						for range reps {
							if err := run(r, n, chunk); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				el := time.Since(start)
				per := el / reps
				t.Logf("chunk %3d KiB x %3d (%5.1f MiB) x %d runners: %6.2f ms per batch, %5.2f GB/s",
					chunk>>10, n, float64(n*chunk)/(1<<20), conc, float64(per)/1e6, float64(conc*reps*n*chunk)/el.Seconds()/1e9)
			}
		}
	}
}

// TestGPUEncodePlain: the GPU's page encoder (encode.cu) writes exactly the pages of its CPU
// twin pqfile.PlainPages, levels, values and statistics, for every fixed-width type, NULL
// rates from 0 to 1, NaN and zeros of both signs, and page sizes from one row to more than the
// column.
func TestGPUEncodePlain(t *testing.T) {
	lib := cudaLib(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	cases := 0
	for _, dt := range plainTypes {
		if dt.ID() == arrow.DECIMAL128 {
			continue // pgpq_encode_plain takes integers and floats; TestGPUPageEncoder has decimals
		}
		for _, n := range []int{0, 1, 7, 8, 9, 1000, 100003} {
			for _, nullRate := range []float64{0, 0.1, 0.5, 1} {
				for _, pageRows := range []int{1, 7, 1000, 20000} {
					if n > 1000 && pageRows < 1000 {
						continue
					}
					arr := randomFixed(rng, dt, n, nullRate)
					nullable := nullRate > 0 || rng.IntN(2) == 0
					want, _, err := pqfile.PlainPages(arr, nullable, pageRows)
					if err != nil {
						t.Fatal(err)
					}
					d := arr.Data()
					width := dt.(arrow.FixedWidthDataType).Bytes()
					var values []byte
					if n > 0 {
						values = d.Buffers()[1].Bytes()[d.Offset()*width:]
					}
					var valid []byte
					if d.NullN() > 0 {
						valid = d.Buffers()[0].Bytes()
					}
					isFloat := dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64
					got, _, err := lib.encodePlain(values, valid, n, width, isFloat, nullable, pageRows)
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("%s, %d rows, NULL rate %.1f, pages of %d, nullable %v", dt, n, nullRate, pageRows, nullable)
					if len(got) != len(want) {
						t.Fatalf("%s: %d pages, the CPU twin %d", name, len(got), len(want))
					}
					for p := range want {
						w, g := want[p], got[p]
						if wd := w.AppendTo(nil); !bytes.Equal(g.Data, wd) { // the twin's levels, then values
							t.Fatalf("%s: page %d: %d bytes, the CPU twin %d; first difference at %d", name, p, len(g.Data), len(wd), firstDiff(g.Data, wd))
						}
						if int32(g.Rows) != w.NumValues || g.Nulls != w.Stats.NullCount || g.HasStats != w.Stats.HasMin ||
							!bytes.Equal(g.Min, w.Stats.Min) || !bytes.Equal(g.Max, w.Stats.Max) {
							t.Fatalf("%s: page %d: rows %d, nulls %d, stats %v %x %x; the CPU twin %d, %d, %v %x %x", name, p,
								g.Rows, g.Nulls, g.HasStats, g.Min, g.Max, w.NumValues, w.Stats.NullCount, w.Stats.HasMin, w.Stats.Min, w.Stats.Max)
						}
					}
					arr.Release()
					cases++
				}
			}
		}
	}
	t.Logf("%d column chunks encoded alike on the GPU and the CPU", cases)

	// The kernel's own speed on a large column (copies left out: the GPU writer encodes
	// columns the decoder left on the device): 64M int64 values, 10% NULL, pages of 20,000 rows.
	if os.Getenv("PGPARQUET_GPU_QUICK") == "1" {
		return
	}
	const big = 64 << 20
	arr := randomFixed(rng, arrow.PrimitiveTypes.Int64, big, 0.1)
	defer arr.Release()
	d := arr.Data()
	for _, nullable := range []bool{true} {
		_, kernel, err := lib.encodePlain(d.Buffers()[1].Bytes(), d.Buffers()[0].Bytes(), big, 8, false, nullable, 20000)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("encode kernel: %d int64 values (%d MB) in %s: %.1f GB/s of values", big, big*8>>20, kernel, float64(big*8)/kernel.Seconds()/1e9)
	}
}

// TestGPUPageEncoder: PageEncoder on the GPU (encode.cu's encoders, every column of a batch
// per run, 16 goroutines at once) gives exactly the fragments of its CPU twin: the pages
// pqfile.PlainColumn makes of them, levels, values and statistics, are byte for byte the CPU
// twin's, and their compression with zstd on the GPU decompresses to them; every fixed-width
// type, NULL rates from 0 to 1, arrays at an offset, one-row and zero-row batches.
func TestGPUPageEncoder(t *testing.T) {
	cudaLib(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	gpuDev := Start(ModeOn, os.Getenv("PGPARQUET_CUDA_LIB"), nil)
	if err := gpuDev.Err(); err != nil {
		t.Fatal(err)
	}
	gpu, err := gpuDev.PageEncoder(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	cpu, err := Start(ModeOff, "", nil).PageEncoder(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	// $PGPARQUET_GPU_QUICK=1 (compute-sanitizer): 2 goroutines of 12 batches.
	workers, batches := 16, 40
	if os.Getenv("PGPARQUET_GPU_QUICK") == "1" {
		workers, batches = 2, 12
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := compareEncoders(rand.New(rand.NewPCG(seed, uint64(w))), gpu, cpu, batches); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	gpuN, cpuN := gpu.Counts()
	if gpuN == 0 || cpuN != 0 {
		t.Fatalf("%d column batches encoded on the GPU, %d on the CPU", gpuN, cpuN)
	}
	if gpu.pinned == nil {
		t.Fatal("the GPU's page encoder has no pinned page buffers")
	}
	if n := gpu.pinned.outstanding(); n != 0 {
		t.Fatalf("%d bytes of pinned page buffers not given back", n)
	}
}

// TestGPUUniques: PageEncoder.Uniques groups the rows of string and binary columns exactly as
// a map of their values does (every row's group starts at the first row holding its value;
// NULLs in none): low and high cardinality, empty and long values, NULL rates from 0 to 1,
// slices at an offset, zero and one rows, 16 goroutines at once. With every value of a length
// sharing a hash (the test knob), columns holding two values of one length are refused (nil),
// never merged.
func TestGPUUniques(t *testing.T) {
	cudaLib(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dev := Start(ModeOn, os.Getenv("PGPARQUET_CUDA_LIB"), nil)
	if err := dev.Err(); err != nil {
		t.Fatal(err)
	}
	enc, err := dev.PageEncoder(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for round := range 25 {
				n := []int{0, 1, 2, 9, 1000, 30000}[round%6]
				var cols []arrow.Array
				for _, card := range []int{1, 3, 100, 1 << 30} {
					cols = append(cols, copytest.RandomStrings(rng, memory.DefaultAllocator, n, 8*rng.IntN(2), card, []float64{0, 0.1, 1}[rng.IntN(3)], rng.IntN(2) == 0))
				}
				ids, firsts := enc.Uniques(cols)
				for i, a := range cols {
					if ids[i] == nil {
						errs <- fmt.Errorf("round %d column %d: not grouped on the GPU", round, i)
						return
					}
					if err := sameGroups(a, ids[i], firsts[i]); err != nil {
						errs <- fmt.Errorf("round %d column %d (%d rows): %w", round, i, n, err)
						return
					}
					a.Release()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	enc.weak = true
	b := array.NewStringBuilder(memory.DefaultAllocator)
	b.AppendValues([]string{"ab", "ab", "cd", "", "x"}, nil)
	collide := b.NewArray()
	b.AppendValues([]string{"ab", "xyz", "ab", "", ""}, nil)
	fine := b.NewArray()
	ids, firsts := enc.Uniques([]arrow.Array{collide, fine})
	if ids[0] != nil {
		t.Fatalf("ab and cd share a hash: grouped as %v", ids[0])
	}
	if err := sameGroups(fine, ids[1], firsts[1]); err != nil {
		t.Fatal(err)
	}
}

// sameGroups checks ids and firsts against a map of a's values.
func sameGroups(a arrow.Array, ids, firsts []int32) error {
	first := map[string]int{}
	if len(ids) != a.Len() {
		return fmt.Errorf("%d ids for %d rows", len(ids), a.Len())
	}
	for row := 0; row < a.Len(); row++ {
		if a.IsNull(row) {
			if ids[row] != -1 {
				return fmt.Errorf("NULL row %d in group %d", row, ids[row])
			}
			continue
		}
		v := a.ValueStr(row)
		f, ok := first[v]
		if !ok {
			f = row
			first[v] = row
		}
		if ids[row] < 0 || int(ids[row]) >= len(firsts) || int(firsts[ids[row]]) != f {
			return fmt.Errorf("row %d (%q) in group %d, whose first row is not %d", row, v, ids[row], f)
		}
	}
	if len(firsts) != len(first) {
		return fmt.Errorf("%d groups for %d values", len(firsts), len(first))
	}
	return nil
}

// TestGPUEncodeFaultsFallBack: a CUDA error in the page encoder's run or in the grouping (the
// library's test hook fails them after their results were copied back) sends that batch to the
// CPU twin: the pages are the same, byte for byte, as the CPU twin's alone, and the failed
// grouping leaves the columns to the lanes (nil).
func TestGPUEncodeFaultsFallBack(t *testing.T) {
	cudaLib(t)
	dev := Start(ModeOn, os.Getenv("PGPARQUET_CUDA_LIB"), nil)
	if err := dev.Err(); err != nil {
		t.Fatal(err)
	}
	if !dev.lib.injectEncodeFaults(0, 0) {
		t.Fatal("the library has no pgpq_inject_encode_faults")
	}
	gpu, err := dev.PageEncoder(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	cpu, err := Start(ModeOff, "", nil).PageEncoder(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	dev.lib.injectEncodeFaults(3, 2)
	defer dev.lib.injectEncodeFaults(0, 0)
	if err := compareEncoders(rand.New(rand.NewPCG(11, 12)), gpu, cpu, 12); err != nil {
		t.Fatal(err)
	}
	gpuN, cpuN := gpu.Counts()
	if cpuN != 3*int64(len(plainTypes)) || gpuN == 0 {
		t.Fatalf("%d column batches on the GPU, %d on the CPU: want 3 batches of %d columns on the CPU", gpuN, cpuN, len(plainTypes))
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for round := range 4 {
		cols := []arrow.Array{copytest.RandomStrings(rng, memory.DefaultAllocator, 1000, 8*rng.IntN(2), 10, 0.1, false),
			copytest.RandomStrings(rng, memory.DefaultAllocator, 1000, 8*rng.IntN(2), 100, 0, true)}
		ids, firsts := gpu.Uniques(cols)
		for i, a := range cols {
			switch {
			case round < 2 && ids[i] != nil:
				t.Fatalf("round %d: column %d grouped despite the injected fault", round, i)
			case round >= 2:
				if err := sameGroups(a, ids[i], firsts[i]); err != nil {
					t.Fatalf("round %d column %d: %v", round, i, err)
				}
			}
			a.Release()
		}
	}
}
