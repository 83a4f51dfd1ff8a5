package gpuparse

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// BenchmarkCPUDecodeLineorder decodes a ~4 MiB lineorder-shaped chunk on one
// goroutine; MB/s is COPY BINARY input bytes per second.
func BenchmarkCPUDecodeLineorder(b *testing.B) {
	cols, data, starts := copytest.LineorderChunk(4 << 20 / 174)
	dec := NewCPUDecoder(cols, memory.NewGoAllocator())
	c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bench"}
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := dec.Decode(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(len(starts))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
