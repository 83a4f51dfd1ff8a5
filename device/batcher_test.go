package device

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

// TestEncodeLargeFramesParts: EncodeLargeFrames of a page in parts (a page's levels and
// values; empty parts too) writes the page that is their concatenation, through each codec's
// batcher (over its CPU twin) and without one (arrow-go's codec, which writes what it writes
// for the concatenation), into dst's storage when it has room.
func TestEncodeLargeFramesParts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, spec := range specs {
		p := &pageCodec{Codec: arrowCodec(spec.codec), spec: spec}
		g := newBatcher(spec, []chunkCompressor{newCPUChunks(spec, spec.batchChunks, spec.batchBytes)}, slog.Default())
		for _, gpu := range []bool{false, true} {
			if gpu {
				p.gpu.Store(g)
			}
			for _, n := range []int{minPage - 1, minPage, 1<<20 + 3, pageChunk} {
				src := randomPage(rng, n, n%3)
				parts := splitPage(rng, src)
				dst := make([]byte, 0, rng.IntN(2)*2*n) // no room, or room
				got := p.EncodeLargeFrames(dst, parts...)
				if cap(dst) > 0 && len(got) > 0 && &got[:1][0] != &dst[:1][0] {
					t.Errorf("%s, GPU %v, %d bytes: not written into dst, which had room", spec.name, gpu, n)
				}
				plain, err := compress.Decode(arrowCodec(spec.codec), make([]byte, n), got)
				if err != nil || !bytes.Equal(plain, src) {
					t.Errorf("%s, GPU %v, %d bytes in %d parts: decoded %d bytes, %v", spec.name, gpu, n, len(parts), len(plain), err)
				}
				// On the CPU, zstd is cpuZstd's frame, the other codecs write arrow-go's bytes.
				if !gpu {
					want := arrowCodec(spec.codec).EncodeLevel(nil, src, compress.DefaultCompressionLevel)
					if spec.codec == compress.Codecs.Zstd {
						want = cpuZstd(nil, src, compress.DefaultCompressionLevel)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s, %d bytes in %d parts: %d bytes, arrow-go's codec %d", spec.name, n, len(parts), len(got), len(want))
					}
				}
			}
		}
		if g.pages.Load() == 0 {
			t.Errorf("%s: no page went through the batcher", spec.name)
		}
	}
}

// BenchmarkBatcherLargeFrames: a flushPages of the GPU writer through the batcher over its CPU
// twin: 17 pages of 1 MiB (lineorder's columns) compressed at once with EncodeLargeFrames.
// "zstd" is the zstd twin; "copy" a twin that stores each chunk as it is, which leaves the
// batcher's own copies and allocations.
func BenchmarkBatcherLargeFrames(b *testing.B) {
	rng := rand.New(rand.NewPCG(8, 9))
	pages := make([][]byte, 17)
	for i := range pages {
		pages[i] = randomPage(rng, 1<<20+rng.IntN(4096), i%3)
	}
	copySpec := *zstdDispatch.spec
	copySpec.twin = func() chunkEncoder {
		return chunkEncoder{encode: func(dst, src []byte) []byte { return dst[:copy(dst, src)] }, bound: func(n int) int { return n }}
	}
	for _, tc := range []struct {
		name string
		spec *codecSpec
	}{{"zstd", zstdDispatch.spec}, {"copy", &copySpec}} {
		b.Run(tc.name, func(b *testing.B) {
			spec := tc.spec
			var runners []chunkCompressor
			for range 2 {
				runners = append(runners, newCPUChunks(spec, spec.batchChunks, spec.batchBytes))
			}
			p := &pageCodec{Codec: zstdDispatch.Codec, spec: spec}
			p.gpu.Store(newBatcher(spec, runners, slog.Default()))
			b.SetBytes(int64(len(pages)) << 20)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				for _, page := range pages {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if out := p.EncodeLargeFrames(nil, page); len(out) == 0 {
							panic("no output")
						}
					}()
				}
				wg.Wait()
			}
		})
	}
}

// piecesSeen is a CPU twin that records how many pieces each batch's input came in.
type piecesSeen struct {
	*cpuChunks
	seen []int
}

func (p *piecesSeen) run(n int) error {
	p.seen = append(p.seen, len(p.pieces))
	return p.cpuChunks.run(n)
}

// TestBatcherPieces: a page's bytes reach the batch's input as one piece per part, whatever
// the frames it is cut into (the device copies each piece straight from the page's buffer),
// and the page decodes to its parts' concatenation.
func TestBatcherPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	spec := zstdDispatch.spec
	rec := &piecesSeen{cpuChunks: newCPUChunks(spec, spec.batchChunks, spec.batchBytes)}
	g := newBatcherLinger(spec, []chunkCompressor{rec}, spec.batchBytes, spec.batchChunks, 0, slog.Default())
	for _, tc := range []struct{ size, parts int }{{1<<20 + 5, 1}, {3 << 20, 1}, {100, 1}, {1 << 20, 3}} {
		src := randomPage(rng, tc.size, 1)
		var parts [][]byte
		for i := range tc.parts {
			parts = append(parts, src[i*tc.size/tc.parts:(i+1)*tc.size/tc.parts])
		}
		got, err := g.compressFrames(nil, smallChunk, parts...)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := compress.Decode(arrowCodec(spec.codec), make([]byte, tc.size), got); err != nil || !bytes.Equal(plain, src) {
			t.Fatalf("%d bytes in %d parts: decoded %d bytes, %v", tc.size, tc.parts, len(plain), err)
		}
		if n := rec.seen[len(rec.seen)-1]; n != tc.parts {
			t.Errorf("%d bytes in %d parts, frames of %d: %d pieces", tc.size, tc.parts, smallChunk, n)
		}
	}
}

// chunksSeen is a CPU twin that records how many chunks each batch held.
type chunksSeen struct {
	*cpuChunks
	seen []int
}

func (c *chunksSeen) run(n int) error {
	c.seen = append(c.seen, n)
	return c.cpuChunks.run(n)
}

// TestPageFrames: a page of 1 MiB goes to the device in frames of zstdChunk from
// EncodeFixedWidthFrames (fixed-width values), of largeChunk from EncodeLargeFrames and of
// smallChunk from Encode, and decodes to itself each time.
func TestPageFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	spec := zstdDispatch.spec
	rec := &chunksSeen{cpuChunks: newCPUChunks(spec, spec.batchChunks, spec.batchBytes)}
	p := &pageCodec{Codec: arrowCodec(spec.codec), spec: spec}
	p.gpu.Store(newBatcherLinger(spec, []chunkCompressor{rec}, spec.batchBytes, spec.batchChunks, 0, slog.Default()))
	src := randomPage(rng, 1<<20, 2)
	for _, tc := range []struct {
		name   string
		encode func(dst, src []byte) []byte
		frame  int
	}{
		{"EncodeFixedWidthFrames", func(dst, src []byte) []byte { return p.EncodeFixedWidthFrames(dst, src) }, zstdChunk},
		{"EncodeLargeFrames", func(dst, src []byte) []byte { return p.EncodeLargeFrames(dst, src) }, largeChunk},
		{"Encode", p.Encode, smallChunk},
	} {
		got := tc.encode(nil, src)
		if plain, err := compress.Decode(arrowCodec(spec.codec), make([]byte, len(src)), got); err != nil || !bytes.Equal(plain, src) {
			t.Fatalf("%s: decoded %d bytes, %v", tc.name, len(plain), err)
		}
		if n := rec.seen[len(rec.seen)-1]; n != len(src)/tc.frame {
			t.Errorf("%s: a page of 1 MiB in %d frames, want %d of %d KiB", tc.name, n, len(src)/tc.frame, tc.frame>>10)
		}
	}
}

// heldRunner is a CPU twin whose runs wait for release and record their chunks.
type heldRunner struct {
	*cpuChunks
	started chan struct{} // a run began
	release chan struct{}
	chunks  []int
}

func (h *heldRunner) run(n int) error {
	h.chunks = append(h.chunks, n)
	h.started <- struct{}{}
	<-h.release
	return h.cpuChunks.run(n)
}

// TestBatcherGathersWhileBusy: pages that arrive while every runner is busy join one batch,
// however long they keep arriving (up to its bounds), rather than a batch of what came within
// the linger; each page decodes to itself. A page of more frames than a batch holds is
// refused, not cut into an overrun batch.
func TestBatcherGathersWhileBusy(t *testing.T) {
	spec := zstdDispatch.spec
	h := &heldRunner{cpuChunks: newCPUChunks(spec, 64, 8<<20), started: make(chan struct{}, 8), release: make(chan struct{})}
	g := newBatcherLinger(spec, []chunkCompressor{h}, 8<<20, 64, time.Millisecond, slog.Default())
	rng := rand.New(rand.NewPCG(7, 7))
	const later = 12 // pages sent while the runner is busy, one every 2 ms (each past the linger)
	pages := make([][]byte, later+1)
	for i := range pages {
		pages[i] = randomPage(rng, 40000, i%3)
	}
	errs := make(chan error, len(pages))
	send := func(i int) {
		got, err := g.compressFrames(nil, 32<<10, pages[i])
		if err == nil {
			var plain []byte
			plain, err = compress.Decode(arrowCodec(spec.codec), make([]byte, len(pages[i])), got)
			if err == nil && !bytes.Equal(plain, pages[i]) {
				err = fmt.Errorf("page %d decoded to other bytes", i)
			}
		}
		errs <- err
	}
	go send(0)
	<-h.started // the runner holds the first batch
	for i := 1; i <= later; i++ {
		go send(i)
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the last senders reach the batcher
	close(h.release)
	for range pages {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// 40000 bytes in frames of 32 KiB: 2 chunks a page. Before batches kept filling while the
	// runner was busy, the first page after the busy one went alone: [2 2 22].
	sum := 0
	for _, n := range h.chunks {
		sum += n
	}
	if len(h.chunks) < 2 || h.chunks[0] != 2 || h.chunks[1] <= 2 || sum != 2*len(pages) {
		t.Errorf("batches of %v chunks, want [2 %d]: pages that came while the runner was busy did not wait together", h.chunks, 2*later)
	}
	big := randomPage(rng, 65*(32<<10), 1)
	if _, err := g.compressFrames(nil, 32<<10, big); err == nil || !strings.Contains(err.Error(), "frames (at most 64)") {
		t.Errorf("a page of 65 frames for batches of 64: %v", err)
	}
}

// failingRunner is a CPU twin whose first fail runs fail, as an nvCOMP or CUDA error would.
type failingRunner struct {
	*cpuChunks
	mu    sync.Mutex
	fail  int
	calls int
}

func (f *failingRunner) run(n int) error {
	f.mu.Lock()
	f.calls++
	failing := f.calls <= f.fail
	f.mu.Unlock()
	if failing {
		return errors.New("injected: nvcompBatchedZstdCompressAsync failed")
	}
	return f.cpuChunks.run(n)
}

// TestBatcherFailureFallsBack: when a batch fails on the device, its pages are compressed on
// the CPU (with one warning), and so is every later page: no page is lost, and each is the
// CPU codec's bytes for it, whether handed as one part (EncodeLevel) or several
// (EncodeLargeFrames), by writers that run at once.
func TestBatcherFailureFallsBack(t *testing.T) {
	spec := zstdDispatch.spec
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	runner := &failingRunner{cpuChunks: newCPUChunks(spec, spec.batchChunks, spec.batchBytes), fail: 1}
	p := &pageCodec{Codec: zstdDispatch.Codec, spec: spec}
	p.gpu.Store(newBatcherLinger(spec, []chunkCompressor{runner}, spec.batchBytes, spec.batchChunks, time.Millisecond, log))
	compressAtOnce(p, nil, 8, 6, 11, func(w, i int, src, got []byte, _ bool) {
		if want := p.encodeCPU(nil, src, compress.DefaultCompressionLevel); !bytes.Equal(got, want) {
			t.Errorf("writer %d, page %d (%d bytes): %d bytes, not the CPU codec's %d", w, i, len(src), len(got), len(want))
		}
	})
	if n := strings.Count(logged.String(), "GPU compression failed"); n != 1 {
		t.Errorf("%d warnings of the failure, want 1:\n%s", n, logged.String())
	}
	runner.mu.Lock()
	calls := runner.calls
	runner.mu.Unlock()
	if calls != 1 {
		t.Errorf("the device ran %d batches, want 1: after a failure every page goes to the CPU", calls)
	}
}

// compressAtOnce compresses pages of fresh random data (32 KiB to 1 MiB, every kind) through p
// from writers goroutines at once, pages each, alternately as one part (EncodeLevel) and as
// several (EncodeLargeFrames), and calls check with each page and its output; failedBefore
// says whether g (nil: none to watch) had failed when the page was handed over.
func compressAtOnce(p *pageCodec, g *batcher, writers, pages int, seed uint64, check func(w, i int, src, got []byte, failedBefore bool)) {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), seed))
			for i := range pages {
				src := randomPage(rng, minPage+rng.IntN(1<<20), (w+i)%3)
				failedBefore := g != nil && g.failed.Load()
				var got []byte
				if i%2 == 0 {
					got = p.EncodeLevel(nil, src, compress.DefaultCompressionLevel)
				} else {
					got = p.EncodeLargeFrames(nil, splitPage(rng, src)...)
				}
				check(w, i, src, got, failedBefore)
			}
		})
	}
	wg.Wait()
}
