package device

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
)

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
