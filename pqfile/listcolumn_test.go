package pqfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// listElemTypes are the element types of the list columns the tests write: every fixed-width
// type EncodesPlain takes, and dictionaries of strings and binaries (nil: the column's
// dictionary type is made from the dense type's).
var listElemTypes = []struct {
	name  string
	dense arrow.DataType // the type read back
	dict  bool           // written as a dictionary of dense
}{
	{"i16", arrow.PrimitiveTypes.Int16, false},
	{"i32", arrow.PrimitiveTypes.Int32, false},
	{"i64", arrow.PrimitiveTypes.Int64, false},
	{"f32", arrow.PrimitiveTypes.Float32, false},
	{"f64", arrow.PrimitiveTypes.Float64, false},
	{"date", arrow.FixedWidthTypes.Date32, false},
	{"time", arrow.FixedWidthTypes.Time64us, false},
	{"ts", &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, false},
	{"dec9", &arrow.Decimal128Type{Precision: 9, Scale: 2}, false},
	{"dec18", &arrow.Decimal128Type{Precision: 18, Scale: 3}, false},
	{"dec38", &arrow.Decimal128Type{Precision: 38, Scale: 5}, false},
	{"str", arrow.BinaryTypes.String, true},
	{"bin", arrow.BinaryTypes.Binary, true},
}

// listShape is how randomList makes its lists.
type listShape struct {
	nullable, elemNullable bool
	nullLists, empty       float64 // rates
	nullElems              float64
	maxLen                 int
}

// listField is a list field of elements of type elem.
func listField(name string, elem arrow.DataType, sh listShape) arrow.Field {
	return arrow.Field{Name: name, Type: arrow.ListOfField(arrow.Field{Name: "element", Type: elem, Nullable: sh.elemNullable}), Nullable: sh.nullable}
}

// dictOf is the dictionary type of int32 indices into values of type t.
func dictOf(t arrow.DataType) arrow.DataType {
	return &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: t}
}

// appendValue appends a random value of b's type: extremes, zeros of both signs, NaN.
func appendValue(rng *rand.Rand, b array.Builder) {
	pick := rng.IntN(8)
	switch b := b.(type) {
	case *array.Int16Builder:
		b.Append([]int16{math.MinInt16, math.MaxInt16, 0, -1}[pick%4] + int16(rng.IntN(50)))
	case *array.Int32Builder:
		b.Append([]int32{math.MinInt32, math.MaxInt32, 0, -1}[pick%4] + int32(rng.IntN(50)))
	case *array.Int64Builder:
		b.Append([]int64{math.MinInt64, math.MaxInt64, 0, -1}[pick%4] + int64(rng.IntN(50)))
	case *array.Float32Builder:
		b.Append([]float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, float32(math.Inf(1))}[pick%4] + float32(rng.NormFloat64()*float64(pick/4)))
	case *array.Float64Builder:
		b.Append([]float64{math.NaN(), math.Copysign(0, -1), 0, math.Inf(-1)}[pick%4] + rng.NormFloat64()*1e6*float64(pick/4))
	case *array.Date32Builder:
		b.Append(arrow.Date32(rng.Int32N(100000) - 50000))
	case *array.Time64Builder:
		b.Append(arrow.Time64(rng.Int64N(86400e6)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(rng.Int64() - math.MaxInt64/2))
	case *array.Decimal128Builder:
		switch p := b.Type().(*arrow.Decimal128Type).Precision; {
		case p <= 9:
			b.Append(decimal128.FromI64(rng.Int64N(2e9) - 1e9 + 1))
		case p <= 18:
			b.Append(decimal128.FromI64(rng.Int64N(2e18) - 1e18 + 1))
		default:
			b.Append(decimal128.New(rng.Int64N(1<<61)-1<<60, rng.Uint64()))
		}
	}
}

// randomList makes a list array of n rows of sh's shape, of elements of type elem (or, with
// dict, indices into dict), sliced from a larger array at a random offset, its elements
// sliced too; dense is the same lists of dict's values (arr itself, retained, without dict).
func randomList(rng *rand.Rand, elem arrow.DataType, dict arrow.Array, n int, sh listShape) (arr, dense arrow.Array) {
	mem := memory.DefaultAllocator
	pre, post, junk := rng.IntN(6), rng.IntN(6), rng.IntN(11)
	eb := array.NewBuilder(mem, elem)
	defer eb.Release()
	var ib *array.Int32Builder
	if dict != nil {
		ib = array.NewInt32Builder(mem)
		defer ib.Release()
	}
	add := func(null bool) {
		if null {
			eb.AppendNull()
			if ib != nil {
				ib.AppendNull()
			}
			return
		}
		if ib == nil {
			appendValue(rng, eb)
			return
		}
		k := rng.IntN(dict.Len())
		if rng.IntN(3) > 0 {
			k = rng.IntN(min(dict.Len(), 3)) // runs
		}
		ib.Append(int32(k))
		switch d := dict.(type) {
		case *array.String:
			eb.(*array.StringBuilder).Append(d.Value(k))
		case *array.Binary:
			eb.(*array.BinaryBuilder).Append(d.Value(k))
		}
	}
	for range junk {
		add(rng.IntN(2) == 0)
	}
	total := pre + n + post
	offs := make([]int32, 1, total+1)
	valid := make([]byte, (total+7)/8)
	nulls := 0
	for range total {
		row := len(offs) - 1
		if sh.nullable && rng.Float64() < sh.nullLists {
			nulls++
			offs = append(offs, offs[row])
			continue
		}
		valid[row/8] |= 1 << (row % 8)
		m := 0
		if rng.Float64() >= sh.empty {
			m = 1 + rng.IntN(sh.maxLen)
		}
		for range m {
			add(sh.elemNullable && rng.Float64() < sh.nullElems)
		}
		offs = append(offs, offs[row]+int32(m))
	}
	for range rng.IntN(4) {
		add(false)
	}
	elems := eb.NewArray()
	defer elems.Release()
	values := array.NewSlice(elems, int64(junk), int64(elems.Len()))
	defer values.Release()
	var validity *memory.Buffer
	if nulls > 0 {
		validity = memory.NewBufferBytes(valid)
	}
	list := func(child arrow.Array) arrow.Array {
		f := arrow.Field{Name: "element", Type: child.DataType(), Nullable: sh.elemNullable}
		data := array.NewData(arrow.ListOfField(f), total, []*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs))},
			[]arrow.ArrayData{child.Data()}, nulls, 0)
		defer data.Release()
		whole := array.MakeFromData(data)
		defer whole.Release()
		return array.NewSlice(whole, int64(pre), int64(pre+n))
	}
	dense = list(values)
	if ib == nil {
		dense.Retain()
		return dense, dense
	}
	all := ib.NewArray()
	defer all.Release()
	idx := array.NewSlice(all, int64(junk), int64(all.Len()))
	defer idx.Release()
	d := array.NewDictionaryArray(dictOf(dict.DataType()), idx, dict)
	defer d.Release()
	return list(d), dense
}

// listLevels returns the levels c computed for the page being built (before it is cut).
func listLevels(c *ListColumn) (def, rep []int16) {
	for k := range c.def {
		def, rep = append(def, int16(c.def[k])), append(rep, int16(c.rep[k]))
	}
	return def, rep
}

// TestListColumnLevels compares the levels ListColumn computes with shred's (pqarrow's), for
// random arrays of every shape: NULL lists, empty lists, NULL elements, all NULL, sliced.
func TestListColumnLevels(t *testing.T) {
	shapes := map[string]listShape{
		"mixed":           {nullable: true, elemNullable: true, nullLists: 0.15, empty: 0.15, nullElems: 0.2, maxLen: 6},
		"required":        {maxLen: 4, empty: 0.1},
		"required lists":  {elemNullable: true, nullElems: 0.3, maxLen: 9},
		"required values": {nullable: true, nullLists: 0.3, empty: 0.2, maxLen: 3},
		"all NULL":        {nullable: true, elemNullable: true, nullLists: 1, maxLen: 3},
		"NULL elements":   {nullable: true, elemNullable: true, nullElems: 1, maxLen: 20},
		"empty":           {nullable: true, empty: 1, maxLen: 1},
		"long":            {nullable: true, elemNullable: true, nullLists: 0.1, nullElems: 0.05, maxLen: 700},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, sh := range shapes {
		for _, et := range listElemTypes {
			for _, n := range []int{0, 1, 2, 9, 300} {
				var dict arrow.Array
				elem := et.dense
				if et.dict {
					dict = stringArray(lettersDict(5, false))
					if et.dense.ID() == arrow.BINARY {
						dict.Release()
						dict = binaryArray(lettersDict(5, false))
					}
					elem = dictOf(dict.DataType())
				}
				arr, dense := randomList(rng, et.dense, dict, n, sh)
				c, err := NewListColumn(listField("l", elem, sh).Type, sh.nullable, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Append(arr); err != nil {
					t.Fatalf("%s %s %d rows: %v", name, et.name, n, err)
				}
				def, rep := listLevels(c)
				leaves, err := shred(arr, sh.nullable)
				if err != nil {
					t.Fatal(err)
				}
				l := leaves[0]
				if !slices.Equal(def, l.def) || !slices.Equal(rep, l.rep) || c.Rows() != n {
					t.Errorf("%s %s %d rows: levels def %v rep %v (%d rows), shred's %v %v", name, et.name, n, def, rep, c.Rows(), l.def, l.rep)
				}
				if md, mr := c.Levels(); md != l.maxDef || mr != l.maxRep {
					t.Errorf("%s %s: maximum levels %d %d, shred's %d %d", name, et.name, md, mr, l.maxDef, l.maxRep)
				}
				if want := l.values.Len() - l.values.NullN(); c.nonNull != want {
					t.Errorf("%s %s %d rows: %d values, shred's %d", name, et.name, n, c.nonNull, want)
				}
				l.values.Release()
				arr.Release()
				dense.Release()
				if dict != nil {
					dict.Release()
				}
				c.Release()
			}
		}
	}
}

// listCase is a file TestListColumnPages writes: its shape, its row groups' batches, its page
// size.
type listCase struct {
	name      string
	shape     listShape
	groups    [][]int
	pageBytes int
	codec     compress.Compression
}

// TestListColumnPages writes files of a list column of every element type fed as ListColumn's
// pages (AppendPages, AppendDictPages) and reads them back: arrow-go reads the values written,
// pyarrow and DuckDB read what they read of a reference file pqarrow writes from the same
// records; every chunk's statistics (as arrow-go and pyarrow read them) and every page's (as
// arrow-go reads them) are those of its rows, every page starts at a record, and its levels
// are shred's.
func TestListColumnPages(t *testing.T) {
	ctx := context.Background()
	mixed := listShape{nullable: true, elemNullable: true, nullLists: 0.1, empty: 0.1, nullElems: 0.15, maxLen: 5}
	for _, tc := range []listCase{
		{"mixed, small pages", mixed, [][]int{{300, 0, 1, 700}, {5}}, 400, compress.Codecs.Zstd},
		{"required", listShape{maxLen: 4}, [][]int{{1000, 24}}, 1 << 20, compress.Codecs.Snappy},
		{"all NULL lists", listShape{nullable: true, elemNullable: true, nullLists: 1, maxLen: 3}, [][]int{{50, 7}, {3}}, 64, compress.Codecs.Uncompressed},
		{"NULL and empty only", listShape{nullable: true, elemNullable: true, nullLists: 0.5, empty: 1, maxLen: 3}, [][]int{{70}}, 1 << 20, compress.Codecs.Zstd},
		{"all NULL elements", listShape{elemNullable: true, nullElems: 1, maxLen: 4, empty: 0.2}, [][]int{{90}}, 100, compress.Codecs.Snappy},
		{"one row, zero rows", mixed, [][]int{{0}, {1}, {0, 0}}, 1 << 20, compress.Codecs.Gzip},
		{"long lists across pages", listShape{nullable: true, elemNullable: true, nullLists: 0.1, nullElems: 0.05, maxLen: 3000}, [][]int{{20, 3}, {12}}, 2000, compress.Codecs.Zstd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(len(tc.name)), 11))
			dir := t.TempDir()
			path, ref := filepath.Join(dir, "list.parquet"), filepath.Join(dir, "ref.parquet")
			rec, groupRows := writeListFile(t, rng, path, tc)
			defer rec.Release()
			writeDictReference(t, ref, rec)

			got := readArrow(t, path)
			defer got.Release()
			if !array.RecordApproxEqual(rec, got, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Errorf("arrow-go reads another record back:\n%v\nwant\n%v", got, rec)
			}
			readersAgree(ctx, t, ref, path)
			want := listChunksWanted(rec, groupRows)
			checkListChunks(t, "arrow-go", chunkStats(t, path), want)
			checkListChunks(t, "pyarrow", pyarrowChunksOf(t, path, false), want)
			pages := checkListPages(t, path, rec, groupRows, tc.shape.nullable)
			if tc.pageBytes < 1<<20 && pages <= 2*len(listElemTypes)*len(tc.groups) {
				t.Errorf("%d pages in %d row groups of %d list columns: pages of %d bytes were not cut", pages, len(tc.groups), len(listElemTypes), tc.pageBytes)
			}
		})
	}
}

// writeListFile writes the file of tc at path: an id column and a list column per element type,
// each row group of a dictionary of its own; it returns the records written (dense) and the
// rows of each row group.
func writeListFile(t *testing.T, rng *rand.Rand, path string, tc listCase) (arrow.RecordBatch, []int) {
	t.Helper()
	fields := []arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}
	for _, et := range listElemTypes {
		fields = append(fields, listField(et.name, et.dense, tc.shape))
	}
	sc := arrow.NewSchema(fields, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := parquet.NewWriterProperties(parquet.WithCompression(tc.codec), parquet.WithStats(true))
	w, err := NewWriter(f, sc, props)
	if err != nil {
		t.Fatal(err)
	}
	comp, err := NewCPUPlain(tc.codec)
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]*ListColumn, len(listElemTypes))
	for k, et := range listElemTypes {
		elem := et.dense
		if et.dict {
			elem = dictOf(et.dense)
		}
		if cols[k], err = NewListColumn(listField(et.name, elem, tc.shape).Type, tc.shape.nullable, tc.pageBytes); err != nil {
			t.Fatal(err)
		}
		md, mr := cols[k].Levels()
		if wd, wr := w.ColumnLevels(k + 1); md != wd || mr != wr {
			t.Fatalf("column %s: levels %d %d, the file's %d %d", et.name, md, mr, wd, wr)
		}
		defer cols[k].Release()
	}
	builders := make([][]arrow.Array, len(fields))
	var groupRows []int
	id := int64(0)
	for gi, batches := range tc.groups {
		g, err := w.NewRowGroup(props)
		if err != nil {
			t.Fatal(err)
		}
		dicts := []arrow.Array{stringArray(lettersDict(3+gi, gi%2 == 0)), binaryArray(lettersDict(5+gi, false))}
		// flush takes column k's pages (all: the last ones) to the row group.
		flush := func(k int, all bool) {
			for cols[k].Full() || all && cols[k].Rows() > 0 {
				p, ok := cols[k].Take()
				if !ok {
					t.Fatalf("column %d: no page to take of %d rows", k, cols[k].Rows())
				}
				pages := comp.Compress([][]RawPage{{p}})[0]
				cols[k].Recycle(p)
				e := Encoded{Pages: pages, Stats: p.Stats}
				if d := cols[k].Dictionary(); d != nil {
					err = g.AppendDictPages(k+1, d, e)
				} else {
					err = g.AppendPages(k+1, e)
				}
				if err != nil {
					t.Fatalf("row group %d column %d: %v", gi, k+1, err)
				}
			}
		}
		rows := 0
		for _, n := range batches {
			ib := array.NewInt64Builder(memory.DefaultAllocator)
			for range n {
				ib.Append(id)
				id++
			}
			ids := ib.NewArray()
			ib.Release()
			builders[0] = append(builders[0], ids)
			enc, err := EncodePlain(ids, false, 1000, tc.codec)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.AppendPages(0, enc); err != nil {
				t.Fatal(err)
			}
			for k, et := range listElemTypes {
				var dict arrow.Array
				if et.dict {
					dict = dicts[k-len(listElemTypes)+2]
				}
				arr, dense := randomList(rng, et.dense, dict, n, tc.shape)
				builders[k+1] = append(builders[k+1], dense)
				err := cols[k].Append(arr)
				arr.Release()
				if err != nil {
					t.Fatalf("column %s: %v", et.name, err)
				}
				flush(k, false)
			}
			rows += n
		}
		for k := range cols {
			flush(k, true)
		}
		for _, d := range dicts {
			d.Release()
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		groupRows = append(groupRows, rows)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	columns := make([]arrow.Array, len(fields))
	for k, parts := range builders {
		if len(parts) == 0 {
			b := array.NewBuilder(memory.DefaultAllocator, fields[k].Type)
			columns[k] = b.NewArray()
			b.Release()
			continue
		}
		if columns[k], err = array.Concatenate(parts, memory.DefaultAllocator); err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			p.Release()
		}
	}
	rec := array.NewRecordBatch(sc, columns, int64(id))
	for _, c := range columns {
		c.Release()
	}
	return rec, groupRows
}

// plainValue is element i of a (not NULL) in its PLAIN form, as statistics hold it, and
// whether it takes part in them (NaN does not).
func plainValue(a arrow.Array, i int) ([]byte, bool) {
	switch a := a.(type) {
	case *array.Int16:
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(a.Value(i)))), true
	case *array.Int32:
		return binary.LittleEndian.AppendUint32(nil, uint32(a.Value(i))), true
	case *array.Date32:
		return binary.LittleEndian.AppendUint32(nil, uint32(a.Value(i))), true
	case *array.Int64:
		return binary.LittleEndian.AppendUint64(nil, uint64(a.Value(i))), true
	case *array.Time64:
		return binary.LittleEndian.AppendUint64(nil, uint64(a.Value(i))), true
	case *array.Timestamp:
		return binary.LittleEndian.AppendUint64(nil, uint64(a.Value(i))), true
	case *array.Float32:
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(a.Value(i))), !math.IsNaN(float64(a.Value(i)))
	case *array.Float64:
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(a.Value(i))), !math.IsNaN(a.Value(i))
	case *array.Decimal128:
		return decimalBytes(a.Value(i), int(pqarrow.DecimalSize(a.DataType().(*arrow.Decimal128Type).Precision))), true
	}
	return bytesAt(a, i), true
}

// lessValue orders two PLAIN values of a's type as Parquet's statistics do.
func lessValue(a arrow.Array, x, y []byte) bool {
	switch a.(type) {
	case *array.Int16, *array.Int32, *array.Date32:
		return int32(binary.LittleEndian.Uint32(x)) < int32(binary.LittleEndian.Uint32(y))
	case *array.Int64, *array.Time64, *array.Timestamp:
		return int64(binary.LittleEndian.Uint64(x)) < int64(binary.LittleEndian.Uint64(y))
	case *array.Float32:
		return math.Float32frombits(binary.LittleEndian.Uint32(x)) < math.Float32frombits(binary.LittleEndian.Uint32(y))
	case *array.Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(x)) < math.Float64frombits(binary.LittleEndian.Uint64(y))
	case *array.Decimal128:
		if x[0] != y[0] {
			return int8(x[0]) < int8(y[0])
		}
		return bytes.Compare(x[1:], y[1:]) < 0
	}
	return bytes.Compare(x, y) < 0
}

// trueListStats describes rows lo to hi of a list column as chunkStats does: NULL count (the
// levels that are not values), min and max of the values (a float zero as -0.0 for a minimum,
// +0.0 for a maximum), levels.
func trueListStats(col arrow.Array, lo, hi int) string {
	l := col.(*array.List)
	elems := l.ListValues()
	levels, values := 0, 0
	var minV, maxV []byte
	for r := lo; r < hi; r++ {
		s, e := l.ValueOffsets(r)
		if l.IsNull(r) || s == e {
			levels++
			continue
		}
		for i := int(s); i < int(e); i++ {
			levels++
			if elems.IsNull(i) {
				continue
			}
			values++
			v, ok := plainValue(elems, i)
			if !ok {
				continue
			}
			if minV == nil || lessValue(elems, v, minV) {
				minV = v
			}
			if maxV == nil || lessValue(elems, maxV, v) {
				maxV = v
			}
		}
	}
	out := fmt.Sprintf("nulls %d", levels-values)
	if minV != nil {
		switch elems.(type) {
		case *array.Float32:
			if math.Float32frombits(binary.LittleEndian.Uint32(minV)) == 0 {
				minV = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.Copysign(0, -1))))
			}
			if math.Float32frombits(binary.LittleEndian.Uint32(maxV)) == 0 {
				maxV = binary.LittleEndian.AppendUint32(nil, 0)
			}
		case *array.Float64:
			if math.Float64frombits(binary.LittleEndian.Uint64(minV)) == 0 {
				minV = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Copysign(0, -1)))
			}
			if math.Float64frombits(binary.LittleEndian.Uint64(maxV)) == 0 {
				maxV = binary.LittleEndian.AppendUint64(nil, 0)
			}
		}
		out += fmt.Sprintf(" min %x max %x", minV, maxV)
	}
	return fmt.Sprintf("%s, %d values", out, levels)
}

// listChunksWanted is what chunkStats should read of the list chunks of rec written in row
// groups of groupRows rows.
func listChunksWanted(rec arrow.RecordBatch, groupRows []int) [][]string {
	return chunksWanted(rec, groupRows, trueListStats)
}

func checkListChunks(t *testing.T, reader string, got, want [][]string) {
	t.Helper()
	checkChunksAfterKey(t, reader, got, want, func(c int) string { return listElemTypes[c].name })
}

// checkListPages reads every data page of the list chunks of path: its levels (repetition
// levels first, from a record's start; shred's levels of its rows), its encoding (PLAIN, or
// RLE_DICTIONARY after a dictionary page) and its exact statistics.
func checkListPages(t *testing.T, path string, rec arrow.RecordBatch, groupRows []int, nullable bool) (total int) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := 0
	for g, n := range groupRows {
		for c := 1; c < int(rec.NumCols()); c++ {
			name := listElemTypes[c-1].name
			col := rec.Column(c)
			pr, err := r.RowGroup(g).GetColumnPageReader(c)
			if err != nil {
				t.Fatal(err)
			}
			maxDef := r.MetaData().Schema.Column(c).MaxDefinitionLevel()
			row, pages, dicts := start, 0, 0
			for pr.Next() {
				switch p := pr.Page().(type) {
				case *file.DictionaryPage:
					dicts++
				case *file.DataPageV1:
					want := parquet.Encodings.Plain
					if listElemTypes[c-1].dict {
						want = parquet.Encodings.RLEDict
					}
					if parquet.Encoding(p.Encoding()) != want || dicts != btoi(listElemTypes[c-1].dict) {
						t.Errorf("row group %d column %s page %d: encoding %s after %d dictionary pages", g, name, pages, p.Encoding(), dicts)
					}
					levels := int(p.NumValues())
					data := p.Data()
					repLen := int(binary.LittleEndian.Uint32(data))
					rep, err := decodeHybrid(data[4:4+repLen], 1, levels)
					if err != nil {
						t.Fatalf("row group %d column %s page %d: repetition levels: %v", g, name, pages, err)
					}
					data = data[4+repLen:]
					defLen := int(binary.LittleEndian.Uint32(data))
					def, err := decodeHybrid(data[4:4+defLen], bits.Len(uint(maxDef)), levels)
					if err != nil {
						t.Fatalf("row group %d column %s page %d: definition levels: %v", g, name, pages, err)
					}
					rows := 0
					for _, v := range rep {
						rows += btoi(v == 0)
					}
					if len(rep) == 0 || rep[0] != 0 {
						t.Fatalf("row group %d column %s page %d: repetition levels %v", g, name, pages, rep)
					}
					part := array.NewSlice(col, int64(row), int64(row+rows))
					leaves, err := shred(part, nullable)
					part.Release()
					if err != nil {
						t.Fatal(err)
					}
					leaves[0].values.Release()
					if !slices.Equal(int16s(def), leaves[0].def) || !slices.Equal(int16s(rep), leaves[0].rep) {
						t.Errorf("row group %d column %s page %d: levels %v %v, shred's %v %v", g, name, pages, def, rep, leaves[0].def, leaves[0].rep)
					}
					if got, want := fmt.Sprintf("%s, %d values", statsText(p.Statistics()), levels), trueListStats(col, row, row+rows); got != want {
						t.Errorf("row group %d column %s page %d (rows %d to %d): %s, want %s", g, name, pages, row, row+rows, got, want)
					}
					row += rows
					pages++
				default:
					t.Errorf("row group %d column %s: page %T", g, name, p)
				}
			}
			if err := pr.Err(); err != nil {
				t.Fatalf("row group %d column %s: %v", g, name, err)
			}
			if row != start+n {
				t.Errorf("row group %d column %s: pages of %d rows, want %d", g, name, row-start, n)
			}
			total += pages
		}
		start += n
	}
	return total
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func int16s(v []int32) []int16 {
	out := make([]int16, len(v))
	for i, x := range v {
		out[i] = int16(x)
	}
	return out
}

// FuzzListLevels makes an int32 list array from the input (a byte of flags: nullable field,
// nullable elements, the page size; a byte per row: NULL, empty, or its length and NULL
// elements), writes it through ListColumn's pages into a file in memory and reads the column
// back with arrow-go's column reader: the levels it decodes are shred's, its values the
// array's, each page starts at a record.
func FuzzListLevels(f *testing.F) {
	f.Add([]byte{0x03, 0x10, 0x21, 0x00, 0xff, 0x7c})
	f.Add([]byte{0x00, 0x04, 0x05, 0x06})
	f.Add([]byte{0x1f, 0x00, 0x00, 0x00, 0x01, 0x01})
	f.Add([]byte{0xe2, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0xfd, 0x02})
	f.Fuzz(checkListLevels)
}

// checkListLevels is FuzzListLevels's check of one input.
func checkListLevels(t *testing.T, data []byte) {
	if len(data) < 2 {
		return
	}
	sh := listShape{nullable: data[0]&1 != 0, elemNullable: data[0]&2 != 0}
	pageBytes := 4 * (1 + int(data[0]>>2))
	pre := int(data[1] % 4)
	rows := data[2:]
	field := listField("l", arrow.PrimitiveTypes.Int32, sh)
	eb := array.NewInt32Builder(memory.DefaultAllocator)
	defer eb.Release()
	offs := []int32{0}
	valid := make([]byte, (pre+len(rows)+7)/8)
	nulls := 0
	for r := range pre + len(rows) {
		b := byte(0x09) // the rows before the slice: 2 elements
		if r >= pre {
			b = rows[r-pre]
		}
		if sh.nullable && b&3 == 0 {
			nulls++
			offs = append(offs, offs[r])
			continue
		}
		valid[r/8] |= 1 << (r % 8)
		m := 0
		if b&3 != 1 {
			m = int(b>>2) + 1 // up to 64
		}
		for j := range m {
			if sh.elemNullable && (int(b)+j)%3 == 0 {
				eb.AppendNull()
			} else {
				eb.Append(int32(r*100 + j))
			}
		}
		offs = append(offs, offs[r]+int32(m))
	}
	elems := eb.NewArray()
	defer elems.Release()
	var validity *memory.Buffer
	if nulls > 0 {
		validity = memory.NewBufferBytes(valid)
	}
	ld := array.NewData(field.Type, pre+len(rows), []*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs))},
		[]arrow.ArrayData{elems.Data()}, nulls, 0)
	whole := array.MakeFromData(ld)
	ld.Release()
	defer whole.Release()
	arr := array.NewSlice(whole, int64(pre), int64(whole.Len()))
	defer arr.Release()

	c, err := NewListColumn(field.Type, sh.nullable, pageBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	var buf bytes.Buffer
	sc := arrow.NewSchema([]arrow.Field{field}, nil)
	props := parquet.NewWriterProperties(parquet.WithStats(true))
	w, err := NewWriter(&buf, sc, props)
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.NewRowGroup(props)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Append(arr); err != nil {
		t.Fatal(err)
	}
	comp, _ := NewCPUPlain(compress.Codecs.Uncompressed)
	for c.Rows() > 0 {
		p, _ := c.Take()
		if err := g.AppendPages(0, Encoded{Pages: comp.Compress([][]RawPage{{p}})[0], Stats: p.Stats}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	leaves, err := shred(arr, sh.nullable)
	if err != nil {
		t.Fatal(err)
	}
	want := leaves[0]
	defer want.values.Release()
	r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.NumRows(); got != int64(arr.Len()) {
		t.Fatalf("%d rows, want %d", got, arr.Len())
	}
	if arr.Len() == 0 {
		return
	}
	cr, err := r.RowGroup(0).Column(0)
	if err != nil {
		t.Fatal(err)
	}
	n := want.levels
	def, rep, values := make([]int16, n+1), make([]int16, n+1), make([]int32, n+1)
	levels, read, err := cr.(*file.Int32ColumnChunkReader).ReadBatch(int64(n+1), values, def, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(def[:levels], want.def) || !slices.Equal(rep[:levels], want.rep) {
		t.Fatalf("levels read def %v rep %v, shred's %v %v", def[:levels], rep[:levels], want.def, want.rep)
	}
	var wantValues []int32
	wv := want.values.(*array.Int32)
	for i := range wv.Len() {
		if wv.IsValid(i) {
			wantValues = append(wantValues, wv.Value(i))
		}
	}
	if !slices.Equal(values[:read], wantValues) {
		t.Fatalf("values read %v, want %v", values[:read], wantValues)
	}
}

// TestListColumnRefuses feeds ListColumn what it cannot write: each is refused before anything
// is appended, and the column goes on taking records.
func TestListColumnRefuses(t *testing.T) {
	mem := memory.DefaultAllocator
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.ListOf(arrow.BinaryTypes.String), arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int32)),
		arrow.LargeListOf(arrow.PrimitiveTypes.Int32), arrow.ListOf(dictOf(arrow.PrimitiveTypes.Int32))} {
		if _, err := NewListColumn(typ, true, 1<<20); err == nil || EncodesList(typ) {
			t.Errorf("NewListColumn takes %s", typ)
		}
	}
	// list builds a list array of rows (nil: NULL) of elements (nil: NULL), NULL lists given
	// extra elements when junk.
	list := func(elem arrow.DataType, rows [][]*int64, junk bool) arrow.Array {
		b := array.NewBuilder(mem, elem)
		defer b.Release()
		offs, valid, nulls := []int32{0}, make([]byte, (len(rows)+7)/8), 0
		for r, row := range rows {
			if row == nil {
				nulls++
				if junk {
					b.(*array.Int32Builder).Append(1)
				}
				offs = append(offs, int32(b.Len()))
				continue
			}
			valid[r/8] |= 1 << (r % 8)
			for _, v := range row {
				switch {
				case v == nil:
					b.AppendNull()
				case elem.ID() == arrow.DECIMAL128:
					b.(*array.Decimal128Builder).Append(decimal128.FromI64(*v))
				default:
					b.(*array.Int32Builder).Append(int32(*v))
				}
			}
			offs = append(offs, int32(b.Len()))
		}
		elems := b.NewArray()
		defer elems.Release()
		data := array.NewData(arrow.ListOfField(arrow.Field{Name: "element", Type: elem, Nullable: true}), len(rows),
			[]*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs))}, []arrow.ArrayData{elems.Data()}, nulls, 0)
		defer data.Release()
		return array.MakeFromData(data)
	}
	one, big := int64(1), int64(1e12)
	i32 := arrow.PrimitiveTypes.Int32
	dec := &arrow.Decimal128Type{Precision: 9, Scale: 0}
	for _, tc := range []struct {
		name     string
		nullable bool
		typ      arrow.DataType
		arr      arrow.Array
	}{
		{"NULL list with elements", true, i32, list(i32, [][]*int64{{&one}, nil}, true)},
		{"NULL list in a required column", false, i32, list(i32, [][]*int64{{&one}, nil}, false)},
		{"another type", true, arrow.PrimitiveTypes.Float32, list(i32, [][]*int64{{&one}}, false)},
		{"a decimal too large", true, dec, list(dec, [][]*int64{{&one}, {&big}}, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.arr.Release()
			c, err := NewListColumn(arrow.ListOfField(arrow.Field{Name: "element", Type: tc.typ, Nullable: true}), tc.nullable, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Release()
			if err := c.Append(tc.arr); err == nil {
				t.Fatal("appended")
			}
			if c.Rows() != 0 || len(c.def) != 0 || len(c.values) != 0 {
				t.Errorf("%d rows, %d levels, %d value bytes after a refusal", c.Rows(), len(c.def), len(c.values))
			}
		})
	}
	t.Run("NULL elements of required elements", func(t *testing.T) {
		arr := list(i32, [][]*int64{{&one, nil}}, false)
		defer arr.Release()
		c, err := NewListColumn(arrow.ListOfField(arrow.Field{Name: "element", Type: i32}), true, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		if err := c.Append(arr); err == nil || c.Rows() != 0 {
			t.Fatalf("appended (%v), %d rows", err, c.Rows())
		}
	})
	t.Run("dictionaries", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		sh := listShape{nullable: true, elemNullable: true, maxLen: 3}
		d1, d2 := stringArray([]string{"a", "b"}), stringArray([]string{"a", "b"})
		defer d1.Release()
		defer d2.Release()
		c, err := NewListColumn(listField("l", dictOf(arrow.BinaryTypes.String), sh).Type, true, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		a1, dense1 := randomList(rng, arrow.BinaryTypes.String, d1, 10, sh)
		defer a1.Release()
		defer dense1.Release()
		a2, dense2 := randomList(rng, arrow.BinaryTypes.String, d2, 10, sh)
		defer a2.Release()
		defer dense2.Release()
		if err := c.Append(a1); err != nil {
			t.Fatal(err)
		}
		if err := c.Append(a2); err == nil || c.Rows() != 10 {
			t.Fatalf("a batch of another dictionary appended (%v), %d rows", err, c.Rows())
		}
		// An index past the dictionary: a list of one element, index 2 of 2 entries.
		ib := array.NewInt32Builder(mem)
		ib.Append(2)
		idx := ib.NewArray()
		ib.Release()
		defer idx.Release()
		bad := array.NewDictionaryArray(dictOf(arrow.BinaryTypes.String), idx, d1)
		defer bad.Release()
		ld := array.NewData(listTypeOf(c), 1, []*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 1}))}, []arrow.ArrayData{bad.Data()}, 0, 0)
		defer ld.Release()
		badList := array.MakeFromData(ld)
		defer badList.Release()
		if err := c.Append(badList); err == nil || c.Rows() != 10 {
			t.Fatalf("an index past the dictionary appended (%v), %d rows", err, c.Rows())
		}
		for c.Rows() > 0 {
			c.Take()
		}
		if err := c.Append(a2); err != nil || c.Rows() != 10 {
			t.Fatalf("a batch of another dictionary once the pages are taken: %v, %d rows", err, c.Rows())
		}
	})
}

// listTypeOf is c's list type (for arrays made by hand).
func listTypeOf(c *ListColumn) arrow.DataType {
	return arrow.ListOfField(arrow.Field{Name: "element", Type: c.elem, Nullable: c.elemNullable})
}

// TestAppendPagesListRows checks that AppendPages takes a list column's pages only with their
// records (Page.Rows: at least one, at most their levels), and a flat column's only with none
// or as many as their values, leaving the row group taking pages.
func TestAppendPagesListRows(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, listField("l", arrow.PrimitiveTypes.Int32, listShape{nullable: true})}, nil)
	props := parquet.NewWriterProperties()
	w, err := NewWriter(&bytes.Buffer{}, sc, props)
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.NewRowGroup(props)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Abort()
	for _, tc := range []struct {
		col             int
		numValues, rows int32
		ok              bool
	}{
		{1, 5, 0, false}, {1, 5, 6, false}, {1, 5, 2, true}, {1, 5, 5, true},
		{0, 4, 3, false}, {0, 4, 0, true}, {0, 4, 4, true},
	} {
		e := Encoded{Pages: []Page{{Data: []byte{}, NumValues: tc.numValues, Rows: tc.rows}}}
		if err := g.AppendPages(tc.col, e); (err == nil) != tc.ok {
			t.Errorf("column %d, a page of %d values and %d rows: %v", tc.col, tc.numValues, tc.rows, err)
		}
	}
	if rows := g.cols[1].rows; rows != 7 {
		t.Errorf("the list column holds %d rows, want 7", rows)
	}
}
