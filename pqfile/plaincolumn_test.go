package pqfile

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// TestPlainColumn: the pages PlainColumn makes of fragments (PlainFragment of batches cut at
// any row, slices at any offset, zero-row and one-row batches) are exactly PlainPages's of the
// same rows, levels, values and statistics, whatever the page size, whether the pages taken are
// given back (Recycle) or kept: a kept page stays as it was taken.
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
			type kept struct {
				page         RawPage
				levels, data []byte // copies
			}
			var keep []kept
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
				if !bytes.Equal(p.Levels, want[0].Levels) || !bytes.Equal(p.Data, want[0].Data) || p.NumValues != want[0].NumValues || !reflect.DeepEqual(p.Stats, want[0].Stats) {
					t.Fatalf("%s, pages of %d bytes, rows %d+%d: page of %d+%d bytes %+v, want %d+%d bytes %+v", f.Name, pageBytes, pageStart, p.NumValues,
						len(p.Levels), len(p.Data), p.Stats, len(want[0].Levels), len(want[0].Data), want[0].Stats)
				}
				if f.Nullable != (len(p.Levels) > 0) {
					t.Fatalf("%s: %d bytes of levels", f.Name, len(p.Levels))
				}
				pageStart += int(p.NumValues)
				if rng.IntN(3) == 0 {
					keep = append(keep, kept{p, bytes.Clone(p.Levels), bytes.Clone(p.Data)})
				} else {
					pc.Recycle(p)
				}
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
			for _, k := range keep {
				if !bytes.Equal(k.page.Levels, k.levels) || !bytes.Equal(k.page.Data, k.data) {
					t.Fatalf("%s, pages of %d bytes: a page kept was overwritten", f.Name, pageBytes)
				}
			}
		}
	}
}

// TestPlainColumnRecycle: a column whose pages are given back reuses their buffers (no page
// buffer allocated in steady state), never one still in use, and a page given back twice is
// not taken twice.
func TestPlainColumnRecycle(t *testing.T) {
	rec := testRecord(20000, 5)
	defer rec.Release()
	tested := 0
	for i, f := range rec.Schema().Fields() {
		if !EncodesPlain(f.Type) || !f.Nullable {
			continue
		}
		col := rec.Column(i)
		values, stats, err := PlainFragment(col)
		if err != nil {
			t.Fatal(err)
		}
		if len(values) == 0 {
			continue
		}
		var valid []byte
		if col.NullN() > 0 {
			valid = col.NullBitmapBytes()
		}
		tested++
		pc, err := NewPlainColumn(f.Type, true, len(values)/2)
		if err != nil {
			t.Fatal(err)
		}
		appendTake := func() RawPage {
			if err := pc.Append(values, valid, col.Data().Offset(), col.Len(), stats); err != nil {
				t.Fatal(err)
			}
			p, ok := pc.Take()
			if !ok {
				t.Fatal("no page")
			}
			return p
		}
		first := appendTake()
		pc.Recycle(first)
		pc.Recycle(first) // twice: ignored
		second := appendTake()
		if &second.Data[0] != &first.Data[0] || &second.Levels[0] != &first.Levels[0] {
			t.Fatalf("%s: the page given back was not reused", f.Name)
		}
		third := appendTake() // second not given back: new buffers
		if &third.Data[0] == &second.Data[0] || &third.Levels[0] == &second.Levels[0] {
			t.Fatalf("%s: a page in use was reused", f.Name)
		}
		want := second.AppendTo(nil)
		pc.Recycle(third)
		pc.Recycle(second) // the larger of two spares is kept, and no buffer twice
		fourth, fifth := appendTake(), appendTake()
		if &fourth.Data[0] == &fifth.Data[0] {
			t.Fatalf("%s: two pages share a buffer", f.Name)
		}
		if got := fifth.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("%s: the same rows made another page", f.Name)
		}
		pc.Recycle(fourth)
		pc.Recycle(fifth)
		// Steady state: the page's min and max are all it allocates (a few bytes; more
		// allocations under the race detector), no buffer of the page's size.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 20 {
			pc.Recycle(appendTake())
		}
		runtime.ReadMemStats(&after)
		if perPage := (after.TotalAlloc - before.TotalAlloc) / 20; perPage > uint64(len(values))/8 {
			t.Errorf("%s: %d bytes allocated per page of %d bytes in steady state", f.Name, perPage, len(values))
		}
	}
	if tested == 0 {
		t.Fatal("no nullable fixed-width column with values")
	}
}

// TestCPUPlainCompress: CPUPlain.Compress of pages in two parts (levels and values; values
// alone) writes, with every codec, pages that decode to the parts' concatenation and hold
// bytes of their own: the raw pages' buffers are overwritten after it (as PlainColumn reuses
// them) and the pages stay as they were.
func TestCPUPlainCompress(t *testing.T) {
	rec := testRecord(30000, 7)
	defer rec.Release()
	for _, codec := range []compress.Compression{compress.Codecs.Uncompressed, compress.Codecs.Snappy, compress.Codecs.Gzip,
		compress.Codecs.Brotli, compress.Codecs.Zstd, compress.Codecs.Lz4Raw} {
		comp, err := NewCPUPlain(codec)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := compress.GetCodec(codec)
		if err != nil {
			t.Fatal(err)
		}
		var raw [][]RawPage
		var want [][]byte
		for i, f := range rec.Schema().Fields() {
			if !EncodesPlain(f.Type) {
				continue
			}
			pages, _, err := PlainPages(rec.Column(i), f.Nullable, 7000)
			if err != nil {
				t.Fatal(err)
			}
			raw = append(raw, pages)
			for _, p := range pages {
				want = append(want, p.AppendTo(nil))
			}
		}
		out := comp.Compress(raw)
		for _, group := range raw {
			for _, p := range group {
				for _, b := range [][]byte{p.Levels, p.Data} {
					for j := range b {
						b[j] = 0xa5
					}
				}
			}
		}
		k := 0
		for g, group := range out {
			if len(group) != len(raw[g]) {
				t.Fatalf("%s: group %d: %d pages, want %d", codec, g, len(group), len(raw[g]))
			}
			for _, p := range group {
				got, err := compress.Decode(dec, make([]byte, p.UncompressedSize), p.Data)
				if err != nil || int(p.UncompressedSize) != len(want[k]) || !bytes.Equal(got, want[k]) {
					t.Fatalf("%s: page %d (%d bytes, %d said): decoded %d bytes, %v", codec, k, len(want[k]), p.UncompressedSize, len(got), err)
				}
				k++
			}
		}
	}
}
