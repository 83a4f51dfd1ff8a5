package pqfile

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// TestPlainColumn: the pages PlainColumn makes of fragments (PlainFragment of batches cut at
// any row, slices at any offset, zero-row and one-row batches) are exactly PlainPages's of the
// same rows, levels, values and statistics, whatever the page size.
func TestPlainColumn(t *testing.T) {
	rec := testRecord(20000, 5)
	defer rec.Release()
	rng := rand.New(rand.NewPCG(3, 4))
	for i, f := range rec.Schema().Fields() {
		if !EncodesPlain(f.Type) {
			continue
		}
		col := rec.Column(i)
		for _, pageBytes := range []int{1, 1000, 64 << 10, 1 << 30} {
			pc, err := NewPlainColumn(f.Type, f.Nullable, pageBytes)
			if err != nil {
				t.Fatal(err)
			}
			start, pageStart := 0, 0
			take := func() {
				p, ok := pc.Take()
				if !ok {
					t.Fatalf("%s: no page", f.Name)
				}
				part := array.NewSlice(col, int64(pageStart), int64(pageStart+int(p.NumValues)))
				want, _, err := PlainPages(part, f.Nullable, part.Len())
				part.Release()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p.Data, want[0].Data) || p.NumValues != want[0].NumValues || !reflect.DeepEqual(p.Stats, want[0].Stats) {
					t.Fatalf("%s, pages of %d bytes, rows %d+%d: page of %d bytes %+v, want %d bytes %+v", f.Name, pageBytes, pageStart, p.NumValues,
						len(p.Data), p.Stats, len(want[0].Data), want[0].Stats)
				}
				pageStart += int(p.NumValues)
			}
			for start < col.Len() {
				n := min([]int{0, 1, 7, 13, 500, 3001}[rng.IntN(6)], col.Len()-start)
				part := array.NewSlice(col, int64(start), int64(start+n))
				values, stats, err := PlainFragment(part)
				if err != nil {
					t.Fatal(err)
				}
				var valid []byte
				if part.NullN() > 0 {
					valid = part.NullBitmapBytes()
				}
				if err := pc.Append(values, valid, part.Data().Offset(), n, stats); err != nil {
					t.Fatal(err)
				}
				part.Release()
				start += n
				if pc.Full() {
					take()
				}
			}
			if pc.Rows() > 0 {
				take()
			}
			if pageStart != col.Len() {
				t.Fatalf("%s: pages of %d rows in all, want %d", f.Name, pageStart, col.Len())
			}
		}
	}
}
