package device

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"

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
				if !gpu {
					if want := arrowCodec(spec.codec).EncodeLevel(nil, src, compress.DefaultCompressionLevel); !bytes.Equal(got, want) {
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
