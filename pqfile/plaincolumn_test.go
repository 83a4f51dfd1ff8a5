package pqfile

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// checkedAllocator is a memory.Allocator of Go memory that knows the blocks it handed out, so
// that a test finds a block freed twice, one it never gave, and those never freed.
type checkedAllocator struct {
	t   *testing.T
	out map[*byte]int
}

func (a *checkedAllocator) Allocate(size int) []byte {
	b := make([]byte, size, size+13) // a capacity of its own, as a size class gives
	a.out[&b[:1][0]] = cap(b)
	return b
}

func (a *checkedAllocator) Reallocate(size int, b []byte) []byte {
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *checkedAllocator) Free(b []byte) {
	if _, ok := a.out[&b[:1][0]]; !ok {
		a.t.Fatalf("a block of %d bytes freed that is not out", cap(b))
	}
	delete(a.out, &b[:1][0])
}

// TestPlainColumn: the pages PlainColumn makes of fragments (PlainFragment of batches cut at
// any row, slices at any offset, zero-row and one-row batches; appended, or written into the
// room Reserve gives and added by AppendReserved) are exactly PlainPages's of the same rows,
// levels, values and statistics, whatever the page size, whether the pages taken are given
// back (Recycle) or kept: a kept page stays as it was taken. With an allocator, every buffer
// the column took from it goes back once, by Recycle or Release, but those of pages kept.
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
			for _, withAlloc := range []bool{false, true} {
				pc, err := NewPlainColumn(f.Type, f.Nullable, pageBytes)
				if err != nil {
					t.Fatal(err)
				}
				alloc := &checkedAllocator{t: t, out: map[*byte]int{}}
				if withAlloc {
					pc.SetAllocator(alloc)
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
					if rng.IntN(2) == 0 {
						err = pc.Append(values, valid, part.Data().Offset(), n, stats)
					} else {
						room := pc.Reserve(len(values) + rng.IntN(3))
						copy(room, values)
						err = pc.AppendReserved(len(values), valid, part.Data().Offset(), n, stats)
					}
					if err != nil {
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
				pc.Release()
				if withAlloc {
					for _, k := range keep {
						alloc.Free(k.page.Data)
					}
					if len(alloc.out) != 0 {
						t.Fatalf("%s, pages of %d bytes: %d buffers never given back", f.Name, pageBytes, len(alloc.out))
					}
				}
			}
		}
	}
}

// TestPlainColumnRecycle: a column whose pages are given back reuses their buffers (no page
// buffer allocated in steady state), never one still in use, and a page given back twice is
// not taken twice; the buffers it does not keep go back to its allocator, and Release gives
// back the rest.
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
		alloc := &checkedAllocator{t: t, out: map[*byte]int{}}
		pc.SetAllocator(alloc)
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
		pc.Release()
		if len(alloc.out) != 0 {
			t.Fatalf("%s: %d buffers of the allocator never given back", f.Name, len(alloc.out))
		}
	}
	if tested == 0 {
		t.Fatal("no nullable fixed-width column with values")
	}
}

// TestCPUPlainCompress: CPUPlain.Compress of pages in two parts (levels and values; values
// alone) writes, with every codec and with explicit levels, pages that decode to the parts'
// concatenation, are what the codec writes at that level, and hold bytes of their own: the
// raw pages' buffers are overwritten after it (as PlainColumn reuses them) and the pages stay
// as they were.
func TestCPUPlainCompress(t *testing.T) {
	rec := testRecord(30000, 7)
	defer rec.Release()
	const def = compress.DefaultCompressionLevel
	for _, tc := range []struct {
		codec compress.Compression
		level int
	}{{compress.Codecs.Uncompressed, def}, {compress.Codecs.Snappy, def}, {compress.Codecs.Gzip, def}, {compress.Codecs.Gzip, 9},
		{compress.Codecs.Brotli, def}, {compress.Codecs.Brotli, 5}, {compress.Codecs.Zstd, def}, {compress.Codecs.Zstd, 1},
		{compress.Codecs.Zstd, 19}, {compress.Codecs.Lz4Raw, def}} {
		codec := tc.codec
		comp, err := NewCPUPlainLevel(codec, tc.level)
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
					t.Fatalf("%s level %d: page %d (%d bytes, %d said): decoded %d bytes, %v", codec, tc.level, k, len(want[k]), p.UncompressedSize, len(got), err)
				}
				if codec != compress.Codecs.Uncompressed {
					if z := dec.EncodeLevel(nil, want[k], tc.level); !bytes.Equal(p.Data, z) {
						t.Fatalf("%s level %d: page %d: %d bytes, the codec writes %d at that level", codec, tc.level, k, len(p.Data), len(z))
					}
				}
				k++
			}
		}
	}
}

// framesCodec is arrow-go's zstd codec with the device's two EncodeLargeFrames methods,
// recording which one each page went through.
type framesCodec struct {
	compress.Codec
	mu           sync.Mutex
	fixed, large int
}

func (f *framesCodec) EncodeLargeFrames(dst []byte, parts ...[]byte) []byte {
	f.mu.Lock()
	f.large++
	f.mu.Unlock()
	return f.Encode(dst, bytes.Join(parts, nil))
}

func (f *framesCodec) EncodeFixedWidthFrames(dst []byte, parts ...[]byte) []byte {
	f.mu.Lock()
	f.fixed++
	f.mu.Unlock()
	return f.Encode(dst, bytes.Join(parts, nil))
}

// TestCPUPlainFrames: CPUPlain.Compress hands a codec with large frames (the device's) the
// pages of fixed-width values (PlainPages, PlainColumn) through EncodeFixedWidthFrames and the
// others through EncodeLargeFrames; with an explicit level, neither (nvCOMP has no levels).
func TestCPUPlainFrames(t *testing.T) {
	zstd, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord(3000, 3)
	defer rec.Release()
	var fixed []RawPage
	for i, f := range rec.Schema().Fields() {
		if EncodesPlain(f.Type) {
			pages, _, err := PlainPages(rec.Column(i), f.Nullable, 7000)
			if err != nil {
				t.Fatal(err)
			}
			fixed = append(fixed, pages...)
		}
	}
	other := RawPage{Data: []byte("not fixed-width values"), NumValues: 1}
	for _, level := range []int{compress.DefaultCompressionLevel, 5} {
		f := &framesCodec{Codec: zstd}
		c := &CPUPlain{codec: f, level: level}
		out := c.Compress([][]RawPage{fixed, {other}})
		want := [2]int{len(fixed), 1}
		if level != compress.DefaultCompressionLevel {
			want = [2]int{}
		}
		if f.fixed != want[0] || f.large != want[1] {
			t.Errorf("level %d: %d pages through EncodeFixedWidthFrames, %d through EncodeLargeFrames; want %d and %d", level, f.fixed, f.large, want[0], want[1])
		}
		if got, err := compress.Decode(zstd, nil, out[1][0].Data); err != nil || !bytes.Equal(got, other.Data) {
			t.Errorf("level %d: the other page decoded to %q, %v", level, got, err)
		}
	}
}

// TestPlainColumnMaxRows: a column whose pages hold at most n rows (SetMaxRows) cuts its pages
// at n values though its pageBytes is larger, sizes its page buffer to n values, and fills it
// without growing it.
func TestPlainColumnMaxRows(t *testing.T) {
	rec := testRecord(4000, 5)
	defer rec.Release()
	for i, f := range rec.Schema().Fields() {
		if !EncodesPlain(f.Type) {
			continue
		}
		col := rec.Column(i)
		pc, err := NewPlainColumn(f.Type, f.Nullable, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		pc.SetMaxRows(col.Len())
		var first []byte
		for start := 0; start < col.Len(); start += 700 {
			part := array.NewSlice(col, int64(start), int64(min(start+700, col.Len())))
			values, stats, err := PlainFragment(part)
			if err != nil {
				t.Fatal(err)
			}
			room := pc.Reserve(len(values))
			if first == nil && len(room) > 0 {
				first = room[:1]
			}
			copy(room, values)
			var valid []byte
			if part.NullN() > 0 {
				valid = part.NullBitmapBytes()
			}
			if err := pc.AppendReserved(len(values), valid, part.Data().Offset(), part.Len(), stats); err != nil {
				t.Fatal(err)
			}
			part.Release()
		}
		if col.NullN() == 0 && !pc.Full() {
			t.Errorf("%s: %d values of %d rows at most, and the page is not full", f.Name, col.Len(), col.Len())
		}
		p, _ := pc.Take()
		if len(p.Data) == 0 {
			continue // no values (all NULL): no buffer
		}
		if want := col.Len() * PlainWidth(f.Type); cap(p.Data) != want || (first != nil && &p.Data[:1][0] != &first[0]) {
			t.Errorf("%s: a page buffer of %d bytes (moved: %v), want %d", f.Name, cap(p.Data), first != nil && &p.Data[:1][0] != &first[0], want)
		}
	}
}
