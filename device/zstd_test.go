package device

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// randomPage returns n bytes whose compressibility depends on kind: 0 random, 1 text-like, 2
// runs of few values (as PLAIN-encoded integers).
func randomPage(rng *rand.Rand, n, kind int) []byte {
	b := make([]byte, n)
	switch kind {
	case 0:
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	case 1:
		words := []string{"alpha ", "beta ", "gamma ", "delta@example.com ", "2026-11-29 ", "ünï ☺ "}
		for i := 0; i < n; {
			i += copy(b[i:], words[rng.IntN(len(words))])
		}
	default:
		for i := 0; i+8 <= n; i += 8 {
			v := uint64(rng.IntN(5)) * 1000003
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	return b
}

// checkBatcher compresses pages of every size in sizes and every kind from many goroutines at
// once through g and decodes each with arrow-go's codec (given the page's length, as a Parquet
// reader is; for zstd it reads concatenated frames, as every zstd decoder does): each must come
// back exactly.
func checkBatcher(t *testing.T, g *batcher, sizes []int, pages int) (in, out int64) {
	t.Helper()
	dec := arrowCodec(g.spec.codec)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range pages {
				src := randomPage(rng, sizes[(w+i)%len(sizes)], (w*3+i)%3)
				dst := make([]byte, 0, rng.IntN(2)*len(src)) // no room, or room
				var got []byte
				var err error
				if rng.IntN(2) == 0 {
					got, err = g.compress(dst, src)
				} else { // in parts, as a page's levels and values (EncodeLargeFrames)
					got, err = g.compressFrames(dst, g.spec.chunk, splitPage(rng, src)...)
				}
				if err != nil {
					t.Errorf("%s: page of %d bytes (kind %d): %v", g.spec.name, len(src), (w*3+i)%3, err)
					return
				}
				plain, err := compress.Decode(dec, make([]byte, len(src)), got)
				if err != nil || !bytes.Equal(plain, src) {
					at := -1
					for j := range min(len(plain), len(src)) {
						if plain[j] != src[j] {
							at = j
							break
						}
					}
					t.Errorf("%s: page of %d bytes (kind %d): decoded %d bytes (first difference at %d, chunk %d), %v", g.spec.name, len(src), (w*3+i)%3, len(plain), at, at/g.spec.chunk, err)
					return
				}
				mu.Lock()
				in, out = in+int64(len(src)), out+int64(len(got))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return in, out
}

// splitPage cuts src into 1 to 4 parts at random places (empty parts too).
func splitPage(rng *rand.Rand, src []byte) [][]byte {
	cuts := []int{0, len(src)}
	for range rng.IntN(4) {
		cuts = append(cuts, rng.IntN(len(src)+1))
	}
	slices.Sort(cuts)
	var parts [][]byte
	for i := 1; i < len(cuts); i++ {
		parts = append(parts, src[cuts[i-1]:cuts[i]])
	}
	return parts
}

// zstdSizes are page sizes around zstd's chunks.
var zstdSizes = []int{minPage, zstdChunk - 1, zstdChunk, zstdChunk + 1, 1 << 20, 3<<20 + 17, 150000}

// TestZstdBatcherCPUTwin runs the batcher (gathering, cutting pages into chunks, carrying a
// page that does not fit to the next batch, joining frames) over its CPU twin.
func TestZstdBatcherCPUTwin(t *testing.T) {
	const maxBytes, maxChunks = 4 << 20, 120 // small: batches fill and carry pages over (a 3 MiB page is 97 frames of smallChunk)
	spec := zstdDispatch.spec
	g := newBatcherLinger(spec, []chunkCompressor{newCPUChunks(spec, maxChunks, maxBytes), newCPUChunks(spec, maxChunks, maxBytes)}, maxBytes, maxChunks, batchLinger, slog.Default())
	in, out := checkBatcher(t, g, zstdSizes, 12)
	if g.batches.Load() >= g.pages.Load() {
		t.Errorf("%d pages in %d batches: pages were not gathered", g.pages.Load(), g.batches.Load())
	}
	t.Logf("%d pages in %d batches, %d bytes to %d", g.pages.Load(), g.batches.Load(), in, out)
}

// testRecord has an id, a compressible and an incompressible column, and text.
func testRecord(n int) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "few", Type: arrow.PrimitiveTypes.Int32},
		{Name: "noise", Type: arrow.PrimitiveTypes.Float64},
		{Name: "text", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.Int32Builder).Append(int32(rng.IntN(7)))
		b.Field(2).(*array.Float64Builder).Append(rng.NormFloat64())
		if i%11 == 0 {
			b.Field(3).(*array.StringBuilder).AppendNull()
		} else {
			b.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("row %d %x", i, rng.Uint64()))
		}
	}
	return b.NewRecordBatch()
}
