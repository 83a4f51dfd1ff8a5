package gpuparse

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// TestDecodeFramed: a framed chunk (each tuple behind its CopyData header, as the receiver
// leaves them for the GPU) decodes to what its tuples back to back decode to, column for
// column, and a bad field length gives the same error, at the same stream offset and row.
func TestDecodeFramed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(5, 9))
	for _, tc := range []struct {
		name  string
		dec   *CPUDecoder
		chunk func(rows int) *pgcopy.Chunk
	}{
		{"random", NewCPUDecoder(copytest.RandomColumns(), mem), func(rows int) *pgcopy.Chunk { return copytest.RandomChunk(rng, rows) }},
		{"lists", NewCPUDecoder(copytest.ListColumns(), mem), func(rows int) *pgcopy.Chunk {
			return copytest.RandomListChunk(rng, rows, 0.2, 0.2)
		}},
	} {
		for _, rows := range []int{0, 1, 2, 300} {
			c := tc.chunk(rows)
			f := copytest.Framed(c)
			want, err := tc.dec.Decode(context.Background(), c)
			if err != nil {
				t.Fatalf("%s, %d rows: %v", tc.name, rows, err)
			}
			got, err := tc.dec.Decode(context.Background(), f)
			if err != nil {
				t.Fatalf("%s, %d rows, framed: %v", tc.name, rows, err)
			}
			if got.NumRows() != want.NumRows() {
				t.Errorf("%s, %d rows, framed: %d rows", tc.name, rows, got.NumRows())
			}
			for ci := range int(want.NumCols()) {
				if err := copytest.SameArrays(want.Column(ci), got.Column(ci)); err != nil {
					t.Errorf("%s, %d rows, framed, column %d: %v", tc.name, rows, ci, err)
				}
			}
			want.Release()
			got.Release()
			if rows < 2 {
				continue
			}
			// The last tuple's first field length made impossible, in both layouts.
			last := c.RowStarts[rows-1]
			binary.BigEndian.PutUint32(c.Data[last+2:], 1<<30)
			binary.BigEndian.PutUint32(f.Data[f.RowStarts[rows-1]+2:], 1<<30)
			_, werr := tc.dec.Decode(context.Background(), c)
			_, gerr := tc.dec.Decode(context.Background(), f)
			if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
				t.Errorf("%s, %d rows, a bad length: %v framed, want %v", tc.name, rows, gerr, werr)
			}
		}
	}
}
