package pqfile

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/copytest"
)

// byteRecord is n rows of an id, a nullable string (NULL rate nullRate, empty strings, long
// strings across pages, non-ASCII bytes), a required binary, a nullable JSON column and a
// nullable uuid column (random bytes, so that signed and unsigned orders differ).
func byteRecord(t *testing.T, n int, nullRate float64, seed uint64) arrow.RecordBatch {
	t.Helper()
	jt, err := extensions.NewJSONType(arrow.BinaryTypes.String)
	if err != nil {
		t.Fatal(err)
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.Binary},
		{Name: "j", Type: jt, Nullable: true},
		{Name: "u", Type: extensions.NewUUIDType(), Nullable: true},
	}, nil)
	r := rand.New(rand.NewPCG(seed, 11))
	mem := memory.DefaultAllocator
	ids, ss, bs, js := array.NewInt64Builder(mem), array.NewStringBuilder(mem), array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary), array.NewStringBuilder(mem)
	us := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 16})
	word := func(utf8 bool) string {
		switch k := r.IntN(20); {
		case k == 0:
			return ""
		case k == 1:
			return strings.Repeat("é", 100+r.IntN(3000)) // longer than a test page
		default:
			b := make([]byte, r.IntN(24))
			for i := range b {
				if b[i] = byte(r.IntN(256)); utf8 {
					b[i] = byte(' ' + r.IntN(95))
				}
			}
			return string(b)
		}
	}
	for i := range n {
		ids.Append(int64(i))
		if r.Float64() < nullRate {
			ss.AppendNull()
			js.AppendNull()
			us.AppendNull()
		} else {
			ss.Append(word(true))
			js.Append(`{"k":` + strings.Repeat("1", 1+r.IntN(9)) + `}`)
			u := make([]byte, 16)
			for k := range u {
				u[k] = byte(r.IntN(256))
			}
			us.Append(u)
		}
		bs.Append([]byte(word(false)))
	}
	jstore, ustore := js.NewArray(), us.NewArray()
	defer jstore.Release()
	defer ustore.Release()
	cols := []arrow.Array{ids.NewArray(), ss.NewArray(), bs.NewArray(), array.NewExtensionArrayWithStorage(jt, jstore),
		array.NewExtensionArrayWithStorage(extensions.NewUUIDType(), ustore)}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	return array.NewRecordBatch(sc, cols, int64(n))
}

// TestByteColumnPages writes string, binary and JSON columns through ByteColumn (small pages,
// batches sliced at odd offsets, several row groups, NULL rates from 0 to 1), compressed with
// CPUPlain, beside an id column of encoded pages: pyarrow and DuckDB read the values pqarrow's
// FileWriter gives them, arrow-go reads the record back, and every chunk's statistics are the
// true min (an empty string included), max and NULL count of its rows.
func TestByteColumnPages(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for _, nullRate := range []float64{0, 0.3, 1} {
		for _, own := range []bool{false, true} {
			pages(ctx, t, seed, nullRate, own)
		}
	}
}

// pages is TestByteColumnPages for one NULL rate, its columns' chunks from a pool of the
// caller's (own: a countingChunks, which must have every chunk back but the one each column
// keeps for its next page) or Go memory.
func pages(ctx context.Context, t *testing.T, seed uint64, nullRate float64, own bool) {
	t.Run(fmt.Sprintf("nulls %.1f own chunks %t", nullRate, own), func(t *testing.T) {
		rec := byteRecord(t, 5000, nullRate, seed)
		defer rec.Release()
		cpu, err := NewCPUPlain(compress.Codecs.Zstd)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		path, ref := filepath.Join(dir, "bytes.parquet"), filepath.Join(dir, "ref.parquet")
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true), parquet.WithDictionaryDefault(false))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWriterWith(f, rec.Schema(), props, WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), StoreSchema: true, Compressor: cpu})
		if err != nil {
			t.Fatal(err)
		}
		cols := []*ByteColumn{nil, NewByteColumn(true, 2000, true, 0), NewByteColumn(false, 2000, true, 0), NewByteColumn(true, 2000, true, 0),
			NewByteColumn(true, 2000, true, 0)}
		pool := &countingChunks{out: map[*byte]bool{}}
		if own {
			for _, c := range cols[1:] {
				c.SetChunkPool(pool)
			}
		}
		groups := [][]int{{1, 999, 0, 700}, {1300}, {1000, 1000}}
		flush := func(g *RowGroup, all bool) {
			for i, c := range cols {
				// Several pages may have been cut while a batch was appended.
				for c != nil && (c.Full() || all && c.Rows() > 0) {
					p, _ := c.Take()
					out, err := g.Compress([][]RawPage{{p}})
					if err != nil {
						t.Fatal(err)
					}
					c.Recycle(p)
					if err := g.AppendPages(i, Encoded{Pages: out[0], Stats: out[0][0].Stats}); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		var groupRows []int
		start := int64(0)
		for _, batches := range groups {
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			for _, n := range batches {
				b := rec.NewSlice(start, start+int64(n))
				e, err := EncodePlain(b.Column(0), false, 1000, compress.Codecs.Zstd)
				if err != nil {
					t.Fatal(err)
				}
				if err := g.AppendPages(0, e); err != nil {
					t.Fatal(err)
				}
				for i, c := range cols {
					if c != nil {
						if err := c.Append(b.Column(i)); err != nil {
							t.Fatal(err)
						}
					}
				}
				b.Release()
				flush(g, false)
				start += int64(n)
				rows += n
			}
			flush(g, true)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			groupRows = append(groupRows, rows)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		writeReference(t, ref, rec.NewSlice(0, start), int(start), compress.Codecs.Zstd)

		readersAgree(ctx, t, ref, path)
		// arrow-go reads both files alike (JSON as its storage, as it reads pqarrow's file).
		got, fromRef := readArrow(t, path), readArrow(t, ref)
		defer got.Release()
		defer fromRef.Release()
		want := rec.NewSlice(0, start)
		defer want.Release()
		if !array.RecordEqual(fromRef, got) {
			t.Errorf("arrow-go reads another record back than from pqarrow's file")
		}
		for c := range 3 { // JSON is read back as its storage, uuid as fixed-size binary
			if !array.Equal(want.Column(c), got.Column(c)) {
				t.Errorf("arrow-go reads column %s back as %v", want.ColumnName(c), got.Column(c))
			}
		}
		stats := chunkStats(t, path)
		lo := 0
		for gi, rows := range groupRows {
			for c := 1; c < 5; c++ {
				wantStats := trueStats(want.Column(c), lo, lo+rows)
				if got := stats[gi][c]; !strings.HasPrefix(got, wantStats+",") {
					t.Errorf("row group %d, column %s: %s, want %s", gi, want.ColumnName(c), got, wantStats)
				}
			}
			lo += rows
		}
		if own && (pool.gets == 0 || len(pool.out) > len(cols)-1) {
			t.Errorf("%d chunks taken from the pool, %d not given back: want at most one per column", pool.gets, len(pool.out))
		}
	})
}

// countingChunks is a ChunkPool of Go memory that fails the test on a chunk given back that it
// did not hand out, and keeps those out.
type countingChunks struct {
	mu   sync.Mutex
	out  map[*byte]bool
	gets int
}

func (c *countingChunks) Get() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, 0, ChunkBytes)
	c.out[&b[:1][0]] = true
	c.gets++
	return b
}

func (c *countingChunks) Put(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cap(b) != ChunkBytes || !c.out[&b[:1][0]] {
		panic(fmt.Sprintf("a chunk of capacity %d given back that the pool did not hand out, or twice", cap(b)))
	}
	delete(c.out, &b[:1][0])
}

// TestByteColumnMinMax: the pages' minimum and maximum are the byte-wise least and greatest
// values, for values that share long prefixes, hold zero bytes, or are prefixes of each other
// (where the 8-byte keys that place most values decide nothing), in batches of 1 to 40.
func TestByteColumnMinMax(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte{0, 1, 'a', 'b', 0xfe, 0xff}
	for round := range 300 {
		c := NewByteColumn(false, 1<<20, true, 0)
		var want [][]byte
		for range 1 + r.IntN(5) {
			b := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
			for range 1 + r.IntN(40) {
				v := make([]byte, r.IntN(12))
				for i := range v {
					v[i] = alphabet[r.IntN(len(alphabet))]
				}
				if r.IntN(2) == 0 { // a common prefix longer than the keys
					v = append([]byte("prefix-long"), v...)
				}
				b.Append(v)
				want = append(want, v)
			}
			a := b.NewArray()
			if err := c.Append(a); err != nil {
				t.Fatal(err)
			}
			a.Release()
			b.Release()
		}
		minV, maxV := want[0], want[0]
		for _, v := range want {
			if string(v) < string(minV) {
				minV = v
			}
			if string(v) > string(maxV) {
				maxV = v
			}
		}
		p, _ := c.Take()
		if string(p.Stats.Min) != string(minV) || string(p.Stats.Max) != string(maxV) {
			t.Fatalf("round %d: min %q max %q, want %q and %q", round, p.Stats.Min, p.Stats.Max, minV, maxV)
		}
	}
}

// BenchmarkByteColumnAppend appends wide's string columns as the GPU writer does, 24k rows a
// batch: names ("customer N"), e-mail addresses and notes (an md5 in hex, repeated 1-4 times).
func BenchmarkByteColumnAppend(b *testing.B) {
	const rows = 24576
	cols := map[string]func(g int) string{
		"name":  func(g int) string { return fmt.Sprintf("customer %d", g) },
		"email": func(g int) string { return fmt.Sprintf("user%d@example.com", g) },
		"note":  func(g int) string { return strings.Repeat(fmt.Sprintf("%032x", uint64(g)*0x9e3779b97f4a7c15), 1+g%4) },
	}
	for name, gen := range cols {
		sb := array.NewStringBuilder(memory.DefaultAllocator)
		for g := range rows {
			sb.Append(gen(g * 7919 % 1000003))
		}
		a := sb.NewArray()
		b.Run(name, func(b *testing.B) {
			c := NewByteColumn(true, 1<<20, true, 0)
			for b.Loop() {
				if err := c.Append(a); err != nil {
					b.Fatal(err)
				}
				for c.Full() {
					p, _ := c.Take()
					c.Recycle(p)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
		a.Release()
		sb.Release()
	}
}

// TestByteColumnAppendFragment: a column fed fragments (the GPU's, made here on the CPU) and
// their min and max gives the pages Append gives, each of the rows it holds: the values'
// bytes, levels and statistics of those rows, every row once and in order, no page over the
// page size but one of a single batch larger than a page. Batch sizes from 0 rows, slices at
// odd offsets, all-NULL batches, empty and long strings (over a page, over a chunk) included.
func TestByteColumnAppendFragment(t *testing.T) {
	// Values over a chunk and over a page, among small ones.
	hb := array.NewStringBuilder(memory.DefaultAllocator)
	for i := range 3000 {
		switch i % 700 {
		case 3:
			hb.Append(strings.Repeat("h", 70000))
		case 400:
			hb.Append(strings.Repeat("g", 300000))
		case 500:
			hb.AppendNull()
		default:
			hb.Append(fmt.Sprint(i))
		}
	}
	huge := hb.NewArray()
	defer huge.Release()
	hb.Release()
	for _, nullRate := range []float64{0, 0.3, 1} {
		rec := byteRecord(t, 3000, nullRate, 7)
		for _, col := range []int{1, 2, 3, -1} {
			column, nullable := huge, true
			if col >= 0 {
				column, nullable = rec.Column(col), rec.Schema().Field(col).Nullable
			}
			for _, pageBytes := range []int{4 << 10, 200 << 10} {
				name := fmt.Sprintf("null rate %v column %d pages of %d", nullRate, col, pageBytes)
				a, b := NewByteColumn(nullable, pageBytes, true, 0), NewByteColumn(nullable, pageBytes, true, 0)
				row, batch := 0, 0 // the next page's first row; the bytes of the last batch
				take := func(final bool) {
					for a.Full() || b.Full() || final && (a.Rows() > 0 || b.Rows() > 0) {
						pa, okA := a.Take()
						pb, okB := b.Take()
						if okA != okB {
							t.Fatalf("%s: one column has a page, the other not", name)
						}
						checkBytePage(t, name, column, row, pa, nullable)
						checkBytePage(t, name+", fragments", column, row, pb, nullable)
						if pa.NumValues != pb.NumValues {
							t.Fatalf("%s: a page of %d rows from row %d, from fragments %d", name, pa.NumValues, row, pb.NumValues)
						}
						if n := pa.Len() - len(pa.Levels); n > pageBytes && n > batch {
							t.Fatalf("%s: a page of %d bytes from row %d, over %d and the last batch's %d", name, n, row, pageBytes, batch)
						}
						row += int(pa.NumValues)
						a.Recycle(pa)
						b.Recycle(pb)
					}
				}
				for at, k := 0, 0; at < 3000; k++ {
					n := min([]int{0, 1, 13, 200, 777}[k%5], 3000-at)
					s := array.NewSlice(column, int64(at), int64(at+n))
					frag, lo, hi := copytest.PlainBytes(s)
					batch = len(frag)
					if err := a.Append(s); err != nil {
						t.Fatal(err)
					}
					if err := b.AppendFragment(s, frag, lo, hi); err != nil {
						t.Fatal(err)
					}
					s.Release()
					take(false)
					at += n
				}
				take(true)
				if row != 3000 {
					t.Errorf("%s: pages of %d rows, want 3000", name, row)
				}
			}
		}
		rec.Release()
	}
}

// checkBytePage checks that p holds rows from of a (its p.NumValues rows): their values PLAIN,
// definition levels (nullable) and statistics.
func checkBytePage(t *testing.T, name string, a arrow.Array, from int, p RawPage, nullable bool) {
	t.Helper()
	s := array.NewSlice(a, int64(from), int64(from)+int64(p.NumValues))
	defer s.Release()
	frag, lo, hi := copytest.PlainBytes(s)
	want := metadata.EncodedStatistics{HasNullCount: true, NullCount: int64(s.NullN())}
	if lo != nil {
		want.HasMin, want.HasMax, want.Min, want.Max = true, true, lo, hi
	}
	var levels []byte
	if nullable {
		valid := make([]byte, (s.Len()+7)/8)
		for i := range s.Len() {
			if s.IsValid(i) {
				bitutil.SetBit(valid, i)
			}
		}
		levels = AppendValidityLevels(nil, valid, s.Len())
	}
	values := RawPage{Data: p.Data, Parts: p.Parts}.AppendTo(nil)
	if !bytes.Equal(values, frag) || !bytes.Equal(p.Levels, levels) || !reflect.DeepEqual(p.Stats, want) {
		t.Fatalf("%s: the page of rows %d-%d: %d bytes of values, %d of levels, %d NULLs, min and max %v; want %d, %d, %d, %v", name, from, from+s.Len(),
			len(values), len(p.Levels), p.Stats.NullCount, p.Stats.HasMin, len(frag), len(levels), want.NullCount, want.HasMin)
	}
}

// TestLongExtremesLeaveNoChunkMinMax: a page whose least or greatest value is longer than the
// statistics keep (maxStats) has no min and max, and then neither has its column chunk: the
// other pages' range would leave that value out, and a reader skipping row groups by the
// chunk's max would lose its row. A long value that is neither extreme leaves both in place.
// For FIXED_LEN_BYTE_ARRAY the same rule holds on statistics handed to AppendPages.
func TestLongExtremesLeaveNoChunkMinMax(t *testing.T) {
	long := strings.Repeat("z", 20)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "u", Type: &arrow.FixedSizeBinaryType{ByteWidth: 16}, Nullable: true},
	}, nil)
	u16 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 16) }
	for _, tc := range []struct {
		name  string
		pages [][]string // the string column's pages; "" is NULL when marked by nulls
		want  string     // its chunk statistics
	}{
		{"long max in the first page", [][]string{{"m", long}, {"b", "c"}}, "nulls 0"},
		{"long max in the last page", [][]string{{"b", "c"}, {"m", long}}, "nulls 0"},
		{"long min", [][]string{{"b", "c"}, {"a" + long, "d"}}, "nulls 0"},
		{"long value between", [][]string{{"b", "y"}, {"c", "m" + long, "x"}}, fmt.Sprintf("nulls 0 min %x max %x", "b", "y")},
		{"short values", [][]string{{"b", "y"}, {"c", ""}}, fmt.Sprintf("nulls 0 min %x max %x", "", "y")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "long.parquet")
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true),
				parquet.WithDictionaryDefault(false))
			cpu, err := NewCPUPlain(compress.Codecs.Zstd)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := NewWriterWith(f, sc, props, WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), Compressor: cpu})
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			col := NewByteColumn(true, 1<<20, true, 8)
			fixed := NewByteColumn(true, 1<<20, true, 32)
			for pi, vals := range tc.pages {
				sb := array.NewStringBuilder(memory.DefaultAllocator)
				ub := array.NewFixedSizeBinaryBuilder(memory.DefaultAllocator, &arrow.FixedSizeBinaryType{ByteWidth: 16})
				for _, v := range vals {
					sb.Append(v)
					ub.Append(u16(byte(pi)))
				}
				for ci, b := range []array.Builder{sb, ub} {
					a := b.NewArray()
					c := []*ByteColumn{col, fixed}[ci]
					if err := c.Append(a); err != nil {
						t.Fatal(err)
					}
					a.Release()
					p, _ := c.Take()
					out, err := g.Compress([][]RawPage{{p}})
					if err != nil {
						t.Fatal(err)
					}
					c.Recycle(p)
					st := out[0][0].Stats
					if ci == 1 && pi == 1 { // values whose extremes were not kept
						st.HasMin, st.HasMax, st.Min, st.Max = false, false, nil, nil
					}
					if err := g.AppendPages(ci, Encoded{Pages: out[0], Stats: st}); err != nil {
						t.Fatal(err)
					}
				}
				sb.Release()
				ub.Release()
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			stats := chunkStats(t, path)
			if got := stats[0][0]; !strings.HasPrefix(got, tc.want+",") {
				t.Errorf("string chunk: %s, want %s", got, tc.want)
			}
			if len(tc.pages) > 1 {
				if got := stats[0][1]; !strings.HasPrefix(got, "nulls 0,") {
					t.Errorf("fixed-size chunk: %s, want no min and max", got)
				}
			}
		})
	}
}
