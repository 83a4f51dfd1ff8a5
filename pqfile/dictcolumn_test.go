package pqfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// decodeHybrid is a reference decoder of the RLE/bit-packed hybrid: n values of bit width
// width from data, which must hold nothing more; RLE runs must be of at least one value, the
// padding of the last bit-packed group zeros.
func decodeHybrid(data []byte, width, n int) ([]int32, error) {
	out := make([]int32, 0, n)
	for len(out) < n {
		h, k := binary.Uvarint(data)
		if k <= 0 {
			return nil, fmt.Errorf("a run header cut short after %d values", len(out))
		}
		data = data[k:]
		if h&1 == 0 {
			count, vb := int(h>>1), (width+7)/8
			if count == 0 || len(out)+count > n || len(data) < vb {
				return nil, fmt.Errorf("an RLE run of %d values after %d of %d, %d bytes left", count, len(out), n, len(data))
			}
			v := uint32(0)
			for b := range vb {
				v |= uint32(data[b]) << (8 * b)
			}
			if width < 32 && v>>width != 0 {
				return nil, fmt.Errorf("an RLE value %d of more than %d bits", v, width)
			}
			data = data[vb:]
			for range count {
				out = append(out, int32(v))
			}
			continue
		}
		groups := int(h >> 1)
		if groups == 0 || len(data) < groups*width || len(out)+8*(groups-1) >= n {
			return nil, fmt.Errorf("a bit-packed run of %d groups after %d of %d values, %d bytes left", groups, len(out), n, len(data))
		}
		for i := range 8 * groups {
			v := uint64(0)
			for b := range width {
				bit := i*width + b
				v |= uint64(data[bit/8]>>(bit%8)&1) << b
			}
			if len(out) < n {
				out = append(out, int32(v))
			} else if v != 0 {
				return nil, fmt.Errorf("padding value %d", v)
			}
		}
		data = data[groups*width:]
	}
	if len(data) > 0 {
		return nil, fmt.Errorf("%d bytes after %d values", len(data), n)
	}
	return out, nil
}

// hybridValues makes n values below 1<<width from seed, of the given kind.
func hybridValues(kind string, n, width int, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	mask := uint32(1)<<width - 1
	if width == 32 {
		mask = ^uint32(0)
	}
	out := make([]int32, n)
	v := int32(0)
	for i := range out {
		switch kind {
		case "random":
			v = int32(rng.Uint32() & mask)
		case "short runs": // runs of 1 to 20: RLE and bit-packed mixed, runs across groups
			if i == 0 || rng.IntN(10) == 0 {
				v = int32(rng.Uint32() & mask)
			}
		case "long runs":
			if i == 0 || rng.IntN(500) == 0 {
				v = int32(rng.Uint32() & mask)
			}
		case "max":
			v = int32(mask)
		}
		out[i] = v
	}
	return out
}

// TestAppendHybrid encodes values of every bit width, of several kinds and lengths (around
// the groups of 8), and decodes them back with the reference decoder.
func TestAppendHybrid(t *testing.T) {
	for width := 0; width <= 32; width++ {
		for _, kind := range []string{"random", "short runs", "long runs", "max"} {
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 100, 1000, 5003} {
				values := hybridValues(kind, n, width, uint64(width*1000+n))
				prefix := []byte{0xaa, 0xbb}
				enc := AppendHybrid(slices.Clone(prefix), values, width)
				if !bytes.Equal(enc[:2], prefix) {
					t.Fatalf("width %d %s n %d: the prefix was overwritten", width, kind, n)
				}
				got, err := decodeHybrid(enc[2:], width, n)
				if err != nil {
					t.Fatalf("width %d %s n %d: %v", width, kind, n, err)
				}
				if !slices.Equal(got, values) {
					t.Fatalf("width %d %s n %d: decoded %v, want %v", width, kind, n, got, values)
				}
				if bound := (n/8+2)*(max(width, 4)+10) + 32; n > 0 && len(enc)-2 > bound {
					t.Fatalf("width %d %s n %d: %d bytes over the bound %d", width, kind, n, len(enc)-2, bound)
				}
			}
		}
	}
	// Runs of 8 equal values or more are RLE runs: all-equal values take a run's bytes.
	if enc := AppendHybrid(nil, make([]int32, 100000), 3); len(enc) != 4 {
		t.Errorf("100000 zeros in %d bytes: % x", len(enc), enc)
	}
}

// TestAppendHybridBytes: AppendHybridBytes writes the bytes AppendHybrid writes for the same
// values (a byte each), at every width of levels (1 to 8), for every kind and length of
// TestAppendHybrid, after a prefix it keeps.
func TestAppendHybridBytes(t *testing.T) {
	for width := 1; width <= 8; width++ {
		for _, kind := range []string{"random", "short runs", "long runs", "max"} {
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 100, 1000, 5003} {
				values := hybridValues(kind, n, width, uint64(width*1000+n))
				small := make([]uint8, n)
				for i, v := range values {
					small[i] = uint8(v)
				}
				prefix := []byte{0xaa, 0xbb}
				want := AppendHybrid(slices.Clone(prefix), values, width)
				if got := AppendHybridBytes(slices.Clone(prefix), small, width); !bytes.Equal(got, want) {
					t.Fatalf("width %d %s n %d: % x, AppendHybrid's % x", width, kind, n, got, want)
				}
			}
		}
	}
}

// FuzzDictIndices encodes runs of values of a random bit width and decodes them back with the
// reference decoder.
func FuzzDictIndices(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 200, 200})
	f.Add([]byte{32, 0xff, 0xff, 0xff, 0xff, 0x50, 1, 2, 3, 4, 0x07})
	f.Add([]byte{17, 9, 9, 9, 9, 0x88, 1, 1, 1, 1, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		width := int(data[0]) % 33
		mask := uint64(1)<<width - 1
		var values []int32
		// Runs: 4 bytes of value, 1 byte of length (1 to 32).
		for rest := data[1:]; len(rest) > 0; {
			var raw [4]byte
			k := copy(raw[:], rest)
			rest = rest[k:]
			count := 1
			if len(rest) > 0 {
				count = int(rest[0]%32) + 1
				rest = rest[1:]
			}
			v := int32(uint64(binary.LittleEndian.Uint32(raw[:])) & mask)
			for range count {
				values = append(values, v)
			}
		}
		enc := AppendHybrid(nil, values, width)
		got, err := decodeHybrid(enc, width, len(values))
		if err != nil {
			t.Fatalf("width %d, %d values: %v", width, len(values), err)
		}
		if !slices.Equal(got, values) {
			t.Fatalf("width %d: decoded %v, want %v", width, got, values)
		}
	})
}

// dictSchema is the schema of the files TestDictPages writes: id fed with PLAIN pages, the
// others with DictColumn's pages.
var dictSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "r", Type: arrow.BinaryTypes.String},
	{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true},
}, nil)

// dictGroup is a row group of TestDictPages: its dictionary and its batches' rows.
type dictGroup struct {
	dict    []string
	batches []int
}

// lettersDict is n distinct values: "", then short strings in no order, and "zzz~never" first
// when unused is true (indices of random kinds seldom use the first entry: hybridValues' first
// value only; it must not show in statistics when unused).
func lettersDict(n int, unused bool) []string {
	var out []string
	if unused {
		out = append(out, "zzz~never")
	}
	for i := 0; len(out) < n; i++ {
		if i == 0 {
			out = append(out, "")
			continue
		}
		out = append(out, fmt.Sprintf("%s-%d", strings.Repeat(string(rune('a'+(i*7)%26)), i%3), i))
	}
	return out
}

// TestDictPages writes files whose string and binary columns are fed as DictColumn's pages
// through RowGroup.AppendDictPages, and reads them back: arrow-go (pqarrow), pyarrow and DuckDB
// read the values (those of a reference file pqarrow writes from the same record), every chunk
// has a dictionary page first, the encodings of RLE_DICTIONARY, the exact statistics of its
// rows (as arrow-go and pyarrow read them: the dictionary entries used, not the others), and
// each data page those of its own rows.
func TestDictPages(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		groups    []dictGroup
		nullRate  float64
		kind      string // of the indices: hybridValues' kinds
		pageBytes int
		codec     compress.Compression
		v1        bool // format version 1.0: PLAIN_DICTIONARY pages
	}{
		{"NULLs 0.3, pages of 500 rows, two dictionaries", []dictGroup{{lettersDict(7, true), []int{2500, 0, 3000, 1}}, {lettersDict(5, false), []int{700, 64}}},
			0.3, "random", 2000, compress.Codecs.Zstd, false},
		{"no NULLs, runs", []dictGroup{{lettersDict(6, false), []int{25000, 25000}}, {lettersDict(3, true), []int{10}}},
			0, "short runs", 1 << 20, compress.Codecs.Snappy, false},
		{"all NULL", []dictGroup{{lettersDict(4, false), []int{100, 37}}, {lettersDict(4, false), []int{9}}}, 1, "random", 200, compress.Codecs.Zstd, false},
		{"empty strings only", []dictGroup{{[]string{""}, []int{30, 3}}, {[]string{"", "b"}, []int{17}}}, 0.2, "random", 40, compress.Codecs.Uncompressed, false},
		{"one entry, width 0", []dictGroup{{[]string{"only"}, []int{1, 1000, 7}}}, 0.1, "random", 1 << 20, compress.Codecs.Gzip, false},
		{"0-row batches and row groups", []dictGroup{{lettersDict(5, false), []int{0}}, {lettersDict(5, false), []int{0, 5, 0}}}, 0.3, "random", 1 << 20, compress.Codecs.Snappy, false},
		{"width 9 and 17, long runs", []dictGroup{{lettersDict(300, true), []int{5000, 5000}}, {lettersDict(70000, false), []int{20000}}},
			0.05, "long runs", 40000, compress.Codecs.Zstd, false},
		{"width 9 and 17, random", []dictGroup{{lettersDict(511, false), []int{3000}}, {lettersDict(65537, true), []int{4000}}},
			0.05, "random", 4000, compress.Codecs.Snappy, false},
		{"format version 1.0", []dictGroup{{lettersDict(12, true), []int{3000, 10}}}, 0.3, "short runs", 4000, compress.Codecs.Snappy, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(tc.name)), 7))
			dir := t.TempDir()
			path, ref := filepath.Join(dir, "dict.parquet"), filepath.Join(dir, "ref.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opts := []parquet.WriterProperty{parquet.WithCompression(tc.codec), parquet.WithStats(true)}
			if tc.v1 {
				opts = append(opts, parquet.WithVersion(parquet.V1_0))
			}
			props := parquet.NewWriterProperties(opts...)
			w, err := NewWriter(f, dictSchema, props)
			if err != nil {
				t.Fatal(err)
			}
			comp, err := NewCPUPlain(tc.codec)
			if err != nil {
				t.Fatal(err)
			}
			cols := []*DictColumn{NewDictColumn(true, tc.pageBytes), NewDictColumn(false, tc.pageBytes), NewDictColumn(true, tc.pageBytes)}
			defer func() {
				for _, c := range cols {
					c.Release()
				}
			}()
			// The record written, for the reference file and the values read back.
			rb := array.NewRecordBuilder(memory.DefaultAllocator, dictSchema)
			defer rb.Release()
			var groupRows []int
			var pagesWanted [][]int // per row group, column s: the rows of each page
			id := int64(0)
			for gi, grp := range tc.groups {
				g, err := w.NewRowGroup(props)
				if err != nil {
					t.Fatal(err)
				}
				sdict, bdict := stringArray(grp.dict), binaryArray(grp.dict)
				var pageRows []int
				// flush takes column k's page and appends it to the row group.
				flush := func(k int, dict arrow.Array) {
					p, ok := cols[k].Take()
					if !ok {
						return
					}
					if k == 0 {
						pageRows = append(pageRows, int(p.NumValues))
					}
					pages := comp.Compress([][]RawPage{{p}})[0]
					if err := g.AppendDictPages(k+1, dict, Encoded{Pages: pages, Stats: p.Stats}); err != nil {
						t.Fatalf("row group %d column %d: %v", gi, k+1, err)
					}
				}
				rows := 0
				for _, n := range grp.batches {
					ids := array.NewInt64Builder(memory.DefaultAllocator)
					for range n {
						rb.Field(0).(*array.Int64Builder).Append(id)
						ids.Append(id)
						id++
					}
					idArr := ids.NewArray()
					ids.Release()
					enc, err := EncodePlain(idArr, false, 1000, tc.codec)
					idArr.Release()
					if err != nil {
						t.Fatal(err)
					}
					if err := g.AppendPages(0, enc); err != nil {
						t.Fatal(err)
					}
					for k, dict := range []arrow.Array{sdict, sdict, bdict} {
						nullRate := tc.nullRate
						if k == 1 {
							nullRate = 0
						}
						d := dictBatch(rng, dict, n, nullRate, tc.kind, rb.Field(k+1))
						err := cols[k].Append(d)
						d.Release()
						if err != nil {
							t.Fatal(err)
						}
						if cols[k].Full() {
							flush(k, dict)
						}
					}
					rows += n
				}
				for k, dict := range []arrow.Array{sdict, sdict, bdict} {
					flush(k, dict)
				}
				sdict.Release()
				bdict.Release()
				estimate, before := g.Bytes(), w.Bytes()
				if err := g.Close(); err != nil {
					t.Fatal(err)
				}
				// The estimate counts the dictionary pages uncompressed (3 columns).
				dictBytes := int64(0)
				for _, v := range grp.dict {
					dictBytes += 3 * int64(4+len(v))
				}
				if added := w.Bytes() - before; estimate < added-64*4 || estimate > 2*added+dictBytes+4<<10 {
					t.Errorf("row group %d: Bytes %d, the file grew by %d", gi, estimate, added)
				}
				groupRows = append(groupRows, rows)
				pagesWanted = append(pagesWanted, pageRows)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rec := rb.NewRecordBatch()
			defer rec.Release()
			writeDictReference(t, ref, rec)

			got := readArrow(t, path)
			defer got.Release()
			if !array.RecordEqual(rec, got) {
				t.Errorf("arrow-go reads another record back:\n%v\nwant\n%v", got, rec)
			}
			readersAgree(ctx, t, ref, path)
			want := dictChunksWanted(rec, groupRows)
			checkDictChunks(t, "arrow-go", chunkStats(t, path), want)
			checkDictChunks(t, "pyarrow", pyarrowChunks(t, path), want)
			checkDictLayout(t, path, rec, groupRows, pagesWanted, props)
		})
	}
}

func stringArray(values []string) arrow.Array {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(values, nil)
	return b.NewArray()
}

func binaryArray(values []string) arrow.Array {
	b := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
	defer b.Release()
	for _, v := range values {
		b.Append([]byte(v))
	}
	return b.NewArray()
}

// dictBatch makes a batch of n rows over dict (indices of the given kind, NULLs at nullRate),
// its indices an array sliced at a random offset, and appends its values to dense.
func dictBatch(rng *rand.Rand, dict arrow.Array, n int, nullRate float64, kind string, dense array.Builder) *array.Dictionary {
	off := rng.IntN(13)
	width := bits.Len(uint(dict.Len() - 1))
	values := hybridValues(kind, n+off, width, rng.Uint64())
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	for i, v := range values {
		v %= int32(dict.Len())
		if i >= off && rng.Float64() < nullRate {
			b.AppendNull()
			dense.AppendNull()
			continue
		}
		b.Append(v)
		if i < off {
			continue
		}
		switch d := dict.(type) {
		case *array.String:
			dense.(*array.StringBuilder).Append(d.Value(int(v)))
		case *array.Binary:
			dense.(*array.BinaryBuilder).Append(d.Value(int(v)))
		}
	}
	all := b.NewArray()
	defer all.Release()
	indices := array.NewSlice(all, int64(off), int64(off+n))
	defer indices.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: dict.DataType()}, indices, dict)
}

// writeDictReference writes rec with arrow-go's own writer.
func writeDictReference(t *testing.T, path string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fw, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
}

// bytesAt is value i of a string or binary array.
func bytesAt(a arrow.Array, i int) []byte {
	if s, ok := a.(*array.String); ok {
		return []byte(s.Value(i))
	}
	return a.(*array.Binary).Value(i)
}

// trueByteStats describes rows [lo, hi) of a string or binary array as chunkStats does.
func trueByteStats(a arrow.Array, lo, hi int) string {
	nulls, has := 0, false
	var minV, maxV []byte
	for i := lo; i < hi; i++ {
		if a.IsNull(i) {
			nulls++
			continue
		}
		v := bytesAt(a, i)
		if !has || bytes.Compare(v, minV) < 0 {
			minV = v
		}
		if !has || bytes.Compare(v, maxV) > 0 {
			maxV = v
		}
		has = true
	}
	out := fmt.Sprintf("nulls %d", nulls)
	if has {
		out += fmt.Sprintf(" min %x max %x", minV, maxV)
	}
	return out
}

// dictChunksWanted is what chunkStats should read of the string and binary chunks of rec
// written in row groups of groupRows rows.
func dictChunksWanted(rec arrow.RecordBatch, groupRows []int) [][]string {
	return chunksWanted(rec, groupRows, func(a arrow.Array, lo, hi int) string {
		return fmt.Sprintf("%s, %d values", trueByteStats(a, lo, hi), hi-lo)
	})
}

// chunksWanted is what chunkStats should read of the chunks of rec's columns after the first
// (the key) written in row groups of groupRows rows: describe's description of rows lo to hi
// of each, and for an empty row group that of a chunk of no page.
func chunksWanted(rec arrow.RecordBatch, groupRows []int, describe func(a arrow.Array, lo, hi int) string) [][]string {
	var out [][]string
	start := 0
	for _, n := range groupRows {
		var cols []string
		for c := 1; c < int(rec.NumCols()); c++ {
			want := "no statistics, 0 values" // a chunk of no page
			if n > 0 {
				want = describe(rec.Column(c), start, start+n)
			}
			cols = append(cols, want)
		}
		out = append(out, cols)
		start += n
	}
	return out
}

// checkChunksAfterKey compares the chunks a reader describes (got: per row group, the key
// column's then the others') with want (the others' only); name names want's column c.
func checkChunksAfterKey(t *testing.T, reader string, got, want [][]string, name func(c int) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d row groups, want %d", reader, len(got), len(want))
	}
	for g := range want {
		for c := range want[g] {
			if got[g][c+1] != want[g][c] {
				t.Errorf("%s: row group %d column %s: %s, want %s", reader, g, name(c), got[g][c+1], want[g][c])
			}
		}
	}
}

func checkDictChunks(t *testing.T, reader string, got, want [][]string) {
	t.Helper()
	checkChunksAfterKey(t, reader, got, want, func(c int) string { return dictSchema.Field(c + 1).Name })
}

// checkDictLayout reads the pages of the dictionary-encoded chunks: a dictionary page first
// (PLAIN), then data pages of RLE_DICTIONARY, those of column s of the rows wanted, each with
// the exact statistics of its rows; the chunk's metadata states the encodings and encoding
// statistics, its dictionary page offset before its data's.
func checkDictLayout(t *testing.T, path string, rec arrow.RecordBatch, groupRows []int, pageRows [][]int, props *parquet.WriterProperties) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := 0
	for g, n := range groupRows {
		rgm := r.MetaData().RowGroup(g)
		for c := 1; c < rgm.NumColumns(); c++ {
			name := dictSchema.Field(c).Name
			cc, err := rgm.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				if cc.HasDictionaryPage() {
					t.Errorf("row group %d column %s of no rows: a dictionary page", g, name)
				}
				continue
			}
			if !cc.HasDictionaryPage() || cc.DictionaryPageOffset() >= cc.DataPageOffset() {
				t.Errorf("row group %d column %s: dictionary page %t at %d, data at %d", g, name, cc.HasDictionaryPage(), cc.DictionaryPageOffset(), cc.DataPageOffset())
			}
			// As arrow-go writes them: in a 1.0 file, PLAIN_DICTIONARY pages (data and
			// dictionary) and the encodings PLAIN_DICTIONARY, PLAIN, RLE.
			index, dictEnc := props.DictionaryIndexEncoding(), props.DictionaryPageEncoding()
			encodings := fmt.Sprint(cc.Encodings())
			if want := fmt.Sprint([]parquet.Encoding{index, parquet.Encodings.Plain, parquet.Encodings.RLE}); encodings != want {
				t.Errorf("row group %d column %s: encodings %s, want %s", g, name, encodings, want)
			}
			var encStats []string
			for _, s := range cc.EncodingStats() {
				encStats = append(encStats, fmt.Sprintf("%s %s", s.PageType, s.Encoding))
			}
			slices.Sort(encStats)
			if got, want := strings.Join(encStats, ", "), fmt.Sprintf("DATA_PAGE %s, DICTIONARY_PAGE %s", index, dictEnc); got != want {
				t.Errorf("row group %d column %s: encoding statistics %s, want %s", g, name, got, want)
			}
			pr, err := r.RowGroup(g).GetColumnPageReader(c)
			if err != nil {
				t.Fatal(err)
			}
			row, pages, dicts := start, 0, 0
			var rows []int
			for pr.Next() {
				switch p := pr.Page().(type) {
				case *file.DictionaryPage:
					if pages > 0 || dicts > 0 || parquet.Encoding(p.Encoding()) != dictEnc {
						t.Errorf("row group %d column %s: a dictionary page of %s after %d data pages", g, name, p.Encoding(), pages)
					}
					dicts++
				case *file.DataPageV1:
					if parquet.Encoding(p.Encoding()) != index {
						t.Errorf("row group %d column %s page %d: encoding %s", g, name, pages, p.Encoding())
					}
					want := trueByteStats(rec.Column(c), row, row+int(p.NumValues()))
					if got := statsText(p.Statistics()); got != want {
						t.Errorf("row group %d column %s page %d: %s, want %s", g, name, pages, got, want)
					}
					rows = append(rows, int(p.NumValues()))
					row += int(p.NumValues())
					pages++
				default:
					t.Errorf("row group %d column %s: page %T", g, name, p)
				}
			}
			if err := pr.Err(); err != nil {
				t.Fatalf("row group %d column %s: %v", g, name, err)
			}
			if dicts != 1 || row != start+n {
				t.Errorf("row group %d column %s: %d dictionary pages, pages of %d rows, want 1 and %d", g, name, dicts, row-start, n)
			}
			if name == "s" && !slices.Equal(rows, pageRows[g]) {
				t.Errorf("row group %d column %s: pages of %v rows, want %v", g, name, rows, pageRows[g])
			}
		}
		start += n
	}
}

// TestDictPagesWidths writes a page of every bit width from 0 to 17 (the page's largest index
// 2^width-1, its bit width byte that width) and reads the values back with arrow-go.
func TestDictPagesWidths(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	for width := 0; width <= 17; width++ {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(width), 3))
			values := lettersDict(1<<width, false)
			dict := stringArray(values)
			defer dict.Release()
			var out bytes.Buffer
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
			w, err := NewWriter(&out, sc, props)
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			c := NewDictColumn(true, 1<<20)
			defer c.Release()
			dense := array.NewStringBuilder(memory.DefaultAllocator)
			defer dense.Release()
			for _, kind := range []string{"random", "short runs", "max"} {
				d := dictBatch(rng, dict, 3001, 0.1, kind, dense)
				if err := c.Append(d); err != nil {
					t.Fatal(err)
				}
				d.Release()
			}
			p, _ := c.Take()
			levels := 4 + int(binary.LittleEndian.Uint32(p.Data))
			if got := int(p.Data[levels]); got != width {
				t.Errorf("bit width %d, want %d", got, width)
			}
			comp, err := NewCPUPlain(compress.Codecs.Snappy)
			if err != nil {
				t.Fatal(err)
			}
			pages := comp.Compress([][]RawPage{{p}})[0]
			if err := g.AppendDictPages(0, c.Dictionary(), Encoded{Pages: pages, Stats: p.Stats}); err != nil {
				t.Fatal(err)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := file.NewParquetReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			tbl := tableOf(t, r)
			defer tbl.Release()
			want := dense.NewArray()
			defer want.Release()
			got := tbl.Column(0).Data().Chunk(0)
			if len(tbl.Column(0).Data().Chunks()) != 1 || !array.Equal(got, want) {
				t.Errorf("arrow-go reads %d chunks, other values than written", len(tbl.Column(0).Data().Chunks()))
			}
		})
	}
}

// TestDictColumnPages checks how DictColumn cuts pages and refuses what it cannot write.
func TestDictColumnPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dict := stringArray(lettersDict(6, false))
	defer dict.Release()
	c := NewDictColumn(true, 400) // pages of 100 rows
	defer c.Release()
	dense := array.NewStringBuilder(memory.DefaultAllocator)
	defer dense.Release()
	var full []int
	for range 7 {
		d := dictBatch(rng, dict, 30, 0.3, "random", dense)
		if err := c.Append(d); err != nil {
			t.Fatal(err)
		}
		d.Release()
		if c.Full() {
			full = append(full, c.Rows())
			if _, ok := c.Take(); !ok {
				t.Fatal("no page of a full column")
			}
		}
	}
	if !slices.Equal(full, []int{120}) || c.Rows() != 90 {
		t.Errorf("full at %v rows, %d rows left; want [120] and 90", full, c.Rows())
	}
	if !sameArray(c.Dictionary(), dict) {
		t.Errorf("Dictionary %v, want %v", c.Dictionary(), dict)
	}

	other := stringArray(lettersDict(6, false))
	defer other.Release()
	d := dictBatch(rng, other, 5, 0, "random", dense)
	defer d.Release()
	if err := c.Append(d); err == nil || !strings.Contains(err.Error(), "take the page first") {
		t.Errorf("a batch of another dictionary: %v", err)
	}
	p, ok := c.Take()
	if !ok || p.NumValues != 90 {
		t.Fatalf("page of %d rows (%t), want 90", p.NumValues, ok)
	}
	if _, ok := c.Take(); ok {
		t.Error("a second page of no rows")
	}
	if err := c.Append(d); err != nil {
		t.Errorf("a batch of another dictionary after Take: %v", err)
	}

	// Indices out of the dictionary: refused, nothing appended.
	b := array.NewInt32Builder(memory.DefaultAllocator)
	b.AppendValues([]int32{0, 1, 6}, nil)
	bad := b.NewArray()
	b.Release()
	defer bad.Release()
	bd := array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, bad, other)
	defer bd.Release()
	rows := c.Rows()
	if err := c.Append(bd); err == nil || !strings.Contains(err.Error(), "index 6 of a dictionary of 6") {
		t.Errorf("an index out of the dictionary: %v", err)
	}
	if c.Rows() != rows {
		t.Errorf("%d rows after a refused batch, want %d", c.Rows(), rows)
	}

	// NULLs in a required column.
	req := NewDictColumn(false, 400)
	defer req.Release()
	nd := dictBatch(rand.New(rand.NewPCG(3, 3)), other, 50, 0.5, "random", dense)
	defer nd.Release()
	if err := req.Append(nd); err == nil || !strings.Contains(err.Error(), "NULLs in a required column") {
		t.Errorf("NULLs in a required column: %v", err)
	}
}

// TestAppendDictPagesRefuses checks what AppendDictPages refuses, and that Abort writes none of
// the pages it holds.
func TestAppendDictPagesRefuses(t *testing.T) {
	dict := stringArray([]string{"a", "b"})
	defer dict.Release()
	c := NewDictColumn(true, 1<<20)
	defer c.Release()
	dense := array.NewStringBuilder(memory.DefaultAllocator)
	defer dense.Release()
	d := dictBatch(rand.New(rand.NewPCG(1, 1)), dict, 100, 0.1, "random", dense)
	defer d.Release()
	if err := c.Append(d); err != nil {
		t.Fatal(err)
	}
	raw, _ := c.Take()
	page := Page{Data: raw.Data, UncompressedSize: int32(len(raw.Data)), NumValues: raw.NumValues, Encoding: raw.Encoding, Stats: raw.Stats}
	other := stringArray([]string{"a", "b"})
	defer other.Release()
	for _, tc := range []struct {
		name string
		call func(g *RowGroup) error
		want string
	}{
		{"PLAIN pages", func(g *RowGroup) error {
			p := page
			p.Encoding = parquet.Encodings.Plain
			return g.AppendDictPages(1, dict, Encoded{Pages: []Page{p}, Stats: raw.Stats})
		}, "page 0 of encoding PLAIN"},
		{"another dictionary", func(g *RowGroup) error {
			if err := g.AppendDictPages(1, dict, Encoded{Pages: []Page{page}, Stats: raw.Stats}); err != nil {
				return err
			}
			return g.AppendDictPages(1, other, Encoded{Pages: []Page{page}, Stats: raw.Stats})
		}, "another dictionary"},
		{"a column of INT64", func(g *RowGroup) error {
			return g.AppendDictPages(0, dict, Encoded{Pages: []Page{page}, Stats: raw.Stats})
		}, "not BYTE_ARRAY"},
		{"plain pages first", func(g *RowGroup) error {
			p := page
			p.Encoding = parquet.Encodings.Plain
			if err := g.AppendPages(1, Encoded{Pages: []Page{p}}); err != nil {
				return err
			}
			return g.AppendDictPages(1, dict, Encoded{Pages: []Page{page}, Stats: raw.Stats})
		}, "a chunk fed with AppendPages"},
		{"plain pages after", func(g *RowGroup) error {
			if err := g.AppendDictPages(1, dict, Encoded{Pages: []Page{page}, Stats: raw.Stats}); err != nil {
				return err
			}
			return g.AppendPages(1, Encoded{Pages: []Page{page}})
		}, "a chunk fed with AppendDictPages"},
		{"a dictionary of int32", func(g *RowGroup) error {
			b := array.NewInt32Builder(memory.DefaultAllocator)
			defer b.Release()
			b.Append(1)
			a := b.NewArray()
			defer a.Release()
			return g.AppendDictPages(1, a, Encoded{Pages: []Page{page}, Stats: raw.Stats})
		}, "not strings or binaries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := NewWriter(&out, dictSchema, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Uncompressed)))
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			size := w.Bytes()
			err = tc.call(g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if err := g.Abort(); err != nil {
				t.Fatal(err)
			}
			if w.Bytes() != size || int64(out.Len()) != size {
				t.Errorf("the file grew from %d to %d bytes", size, out.Len())
			}
		})
	}
}

// lineorderIndices is n indices of a lineorder-like low-cardinality column: k distinct values
// in random order, or sorted (runs of a value).
func lineorderIndices(n, k int, sorted bool, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(rng.IntN(k))
	}
	if sorted {
		slices.Sort(out)
	}
	return out
}

// benchBatches makes batches of 25000 rows over dict, as the export's lanes do.
func benchBatches(dict arrow.Array, k int, sorted bool, nullRate float64) []*array.Dictionary {
	var out []*array.Dictionary
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 40 {
		values := lineorderIndices(25000, k, sorted, uint64(i))
		b := array.NewInt32Builder(memory.DefaultAllocator)
		for _, v := range values {
			if nullRate > 0 && rng.Float64() < nullRate {
				b.AppendNull()
			} else {
				b.Append(v)
			}
		}
		idx := b.NewArray()
		b.Release()
		out = append(out, array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: dict.DataType()}, idx, dict))
		idx.Release()
	}
	return out
}

var benchCases = []struct {
	name     string
	k        int
	sorted   bool
	nullRate float64
}{
	{"7 random", 7, false, 0},
	{"5 random", 5, false, 0},
	{"7 sorted", 7, true, 0},
	{"7 random 10% NULL", 7, false, 0.1},
}

// BenchmarkDictColumn is DictColumn's encoding (Append of 25000-row batches, Take of the
// pages of 1 MiB of raw indices) of lineorder-like columns, per index.
func BenchmarkDictColumn(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			dict := stringArray(lettersDict(bc.k, false))
			defer dict.Release()
			batches := benchBatches(dict, bc.k, bc.sorted, bc.nullRate)
			c := NewDictColumn(bc.nullRate > 0, 1<<20)
			defer c.Release()
			b.ResetTimer()
			size := 0
			for i := 0; i < b.N; i++ {
				if err := c.Append(batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				if c.Full() {
					p, _ := c.Take()
					size += len(p.Data)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/25000, "ns/index")
			for _, d := range batches {
				d.Release()
			}
		})
	}
}

// benchRowGroupRows is the rows of the row groups of the end-to-end benchmarks.
const benchRowGroupRows = 1 << 20

// BenchmarkDictPagesFile is the whole path of a dictionary-encoded string column through
// DictColumn: pages compressed (zstd) and appended (AppendDictPages), row groups of 1 Mi rows
// closed into io.Discard; per index.
func BenchmarkDictPagesFile(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			dict := stringArray(lettersDict(bc.k, false))
			defer dict.Release()
			batches := benchBatches(dict, bc.k, bc.sorted, bc.nullRate)
			sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: bc.nullRate > 0}}, nil)
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(false))
			comp, _ := NewCPUPlain(compress.Codecs.Zstd)
			benchFile(b, sc, props, batches, func() func(g *RowGroup, d *array.Dictionary, end bool) error {
				c := NewDictColumn(bc.nullRate > 0, 1<<20)
				return func(g *RowGroup, d *array.Dictionary, end bool) error {
					if d != nil {
						if err := c.Append(d); err != nil {
							return err
						}
					}
					if !c.Full() && !(end && c.Rows() > 0) {
						return nil
					}
					p, _ := c.Take()
					pages := comp.Compress([][]RawPage{{p}})[0]
					return g.AppendDictPages(0, c.Dictionary(), Encoded{Pages: pages, Stats: p.Stats})
				}
			}())
		})
	}
}

// BenchmarkAppendDictionary is BenchmarkDictPagesFile through arrow-go's column writer
// (RowGroup.AppendDictionary, arrow-go's statistics off): per index.
func BenchmarkAppendDictionary(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			dict := stringArray(lettersDict(bc.k, false))
			defer dict.Release()
			batches := benchBatches(dict, bc.k, bc.sorted, bc.nullRate)
			sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: bc.nullRate > 0}}, nil)
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(false))
			ctx := context.Background()
			benchFile(b, sc, props, batches, func(g *RowGroup, d *array.Dictionary, end bool) error {
				if d == nil {
					return nil
				}
				return g.AppendDictionary(ctx, 0, d)
			})
		})
	}
}

// benchFile appends b.N batches (cycling through batches) to row groups of benchRowGroupRows
// rows of a file written to io.Discard, through add (d nil: the row group ends), and reports
// the time per index.
func benchFile(b *testing.B, sc *arrow.Schema, props *parquet.WriterProperties, batches []*array.Dictionary, add func(g *RowGroup, d *array.Dictionary, end bool) error) {
	w, err := NewWriter(io.Discard, sc, props)
	if err != nil {
		b.Fatal(err)
	}
	var g *RowGroup
	rows := 0
	end := func() error {
		if g == nil {
			return nil
		}
		err := errors.Join(add(g, nil, true), g.Close())
		g = nil
		return err
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if g == nil {
			if g, err = w.NewRowGroup(props); err != nil {
				b.Fatal(err)
			}
			rows = 0
		}
		d := batches[i%len(batches)]
		if err := add(g, d, false); err != nil {
			b.Fatal(err)
		}
		if rows += d.Len(); rows >= benchRowGroupRows {
			if err := end(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := end(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/25000, "ns/index")
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for _, d := range batches {
		d.Release()
	}
}

// BenchmarkAppendPagesClose appends 32 compressed pages of 1 MiB to a row group and closes it
// into io.Discard: what the row group costs beyond the pages themselves (their bytes copied,
// buffers grown), per MiB.
func BenchmarkAppendPagesClose(b *testing.B) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	rng := rand.New(rand.NewPCG(1, 1))
	pages := make([]Page, 32)
	for i := range pages {
		data := make([]byte, 1<<20)
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		pages[i] = Page{Data: data, UncompressedSize: 1 << 20, NumValues: 1 << 17, Encoding: parquet.Encodings.Plain}
	}
	w, err := NewWriter(io.Discard, sc, props)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := w.NewRowGroup(props)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range pages {
			if err := g.AppendPages(0, Encoded{Pages: []Page{p}}); err != nil {
				b.Fatal(err)
			}
		}
		if err := g.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/32, "ns/MiB")
}

// BenchmarkAppendHybrid is the hybrid encoder alone on a page of 262144 lineorder-like indices
// (7 values, bit width 3), per index.
func BenchmarkAppendHybrid(b *testing.B) {
	for _, sorted := range []bool{false, true} {
		b.Run(fmt.Sprintf("sorted=%t", sorted), func(b *testing.B) {
			values := lineorderIndices(1<<18, 7, sorted, 1)
			var buf []byte
			for i := 0; i < b.N; i++ {
				buf = AppendHybrid(buf[:0], values, 3)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(1<<18), "ns/index")
		})
	}
}

// TestAppendDictionaryStatistics checks AppendDictionary's exact statistics: an empty value is
// the chunk's minimum (a nil minimum is not written), and a chunk whose min or max is longer
// than the props' MaxStatsSize has none, as arrow-go's own chunks (the NULL count stays).
func TestAppendDictionaryStatistics(t *testing.T) {
	for _, tc := range []struct {
		name     string
		entries  []string
		maxStats int64
		minMax   bool
	}{
		{"empty minimum", []string{"", "b", "zzz"}, 4096, true}, // "" first: the first entry folded
		{"long maximum", []string{"a", "b", strings.Repeat("z", 40)}, 16, false},
		{"long minimum", []string{strings.Repeat("a", 40), "b", "c"}, 16, false},
		{"long entry between", []string{"a", strings.Repeat("m", 40), "z"}, 16, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
			path := filepath.Join(t.TempDir(), "f.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			props := parquet.NewWriterProperties(parquet.WithStats(true), parquet.WithStatsFor("s", false), parquet.WithMaxStatsSize(tc.maxStats))
			w, err := NewWriter(f, sc, props)
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			dict := stringArray(tc.entries)
			defer dict.Release()
			dense := array.NewStringBuilder(memory.DefaultAllocator)
			defer dense.Release()
			d := dictBatch(rand.New(rand.NewPCG(1, 1)), dict, 50, 0.2, "random", dense)
			defer d.Release()
			ids := array.NewInt64Builder(memory.DefaultAllocator)
			defer ids.Release()
			for i := range 50 {
				ids.Append(int64(i))
			}
			idArr := ids.NewArray()
			defer idArr.Release()
			if err := g.AppendArrow(context.Background(), 0, idArr); err != nil {
				t.Fatal(err)
			}
			if err := g.AppendDictionary(context.Background(), 1, d); err != nil {
				t.Fatal(err)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			want := dense.NewArray()
			defer want.Release()
			wantStats := trueByteStats(want, 0, 50)
			if !tc.minMax {
				wantStats = fmt.Sprintf("nulls %d", want.NullN())
			}
			if got := pyarrowChunks(t, path)[0][1]; got != wantStats+", 50 values" {
				t.Errorf("chunk statistics %s, want %s, 50 values", got, wantStats)
			}
		})
	}
}
