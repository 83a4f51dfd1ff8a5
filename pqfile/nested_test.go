package pqfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/readback"
)

// nestedSchema has flat fields between nested ones (their leaves shift the flat fields'
// columns): lists of primitives with nullable and required elements, structs nullable and
// required, a list of structs holding a list, a list of lists, a map.
var nestedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "li", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	{Name: "ls", Type: arrow.ListOfField(arrow.Field{Name: "element", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	{Name: "lr", Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Float64), Nullable: true},
	{Name: "st", Type: arrow.StructOf(
		arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	{Name: "req", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int32})},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "lst", Type: arrow.ListOf(arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "y", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true})), Nullable: true},
	{Name: "ll", Type: arrow.ListOf(arrow.ListOf(arrow.PrimitiveTypes.Int32)), Nullable: true},
}, nil)

// nestedMapSchema is nestedSchema with a map (readback's readers take no maps).
var nestedMapSchema = arrow.NewSchema(append(nestedSchema.Fields(),
	arrow.Field{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int32), Nullable: true}), nil)

// nestedRecord is n random rows of sc (nestedSchema's fields), ids from first: NULLs, empty lists, NULL
// elements and NULL structs at every level; with allNull, every nested field is NULL.
func nestedRecord(sc *arrow.Schema, n int, first int64, seed uint64, allNull bool) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, uint64(first)))
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	for i := 0; i < n; i++ {
		for f, field := range sc.Fields() {
			fb := b.Field(f)
			switch {
			case f == 0:
				fb.(*array.Int64Builder).Append(first + int64(i))
			case allNull && field.Nullable && field.Type.ID() != arrow.INT32 && field.Type.ID() != arrow.STRING:
				fb.AppendNull()
			default:
				appendRandom(r, fb, field.Nullable)
			}
		}
	}
	return b.NewRecordBatch()
}

var testStrings = []string{"", "a", "bb", "ccc", "δδ", "the quick brown fox"}

// appendRandom appends one random value (NULL at times when nullable) to b.
func appendRandom(r *rand.Rand, b array.Builder, nullable bool) {
	if nullable && r.IntN(6) == 0 {
		b.AppendNull()
		if s, ok := b.(*array.StructBuilder); ok {
			for i := 0; i < s.NumField(); i++ {
				if s.FieldBuilder(i).Len() < s.Len() {
					s.FieldBuilder(i).AppendNull()
				}
			}
		}
		return
	}
	switch b := b.(type) {
	case *array.Int32Builder:
		b.Append(r.Int32N(2000) - 1000)
	case *array.Int64Builder:
		b.Append(r.Int64() >> r.IntN(64))
	case *array.Float64Builder:
		b.Append(r.NormFloat64())
	case *array.StringBuilder:
		b.Append(testStrings[r.IntN(len(testStrings))])
	case *array.StructBuilder:
		b.Append(true)
		for i, f := range b.Type().(*arrow.StructType).Fields() {
			appendRandom(r, b.FieldBuilder(i), f.Nullable)
		}
	case *array.MapBuilder:
		b.Append(true)
		for _, k := range r.Perm(4)[:r.IntN(4)] {
			b.KeyBuilder().(*array.StringBuilder).Append(fmt.Sprintf("k%d", k))
			appendRandom(r, b.ItemBuilder(), true)
		}
	case *array.ListBuilder:
		b.Append(true)
		elem := b.Type().(*arrow.ListType).ElemField()
		for k := r.IntN(4); k > 0; k-- { // empty lists at times
			appendRandom(r, b.ValueBuilder(), elem.Nullable)
		}
	default:
		panic(fmt.Sprintf("appendRandom: %T", b))
	}
}

// nestedPlan is a row group of TestAppendFieldNested: its batches' sizes, and whether every
// nested field is NULL in it.
type nestedPlan struct {
	batches []int
	allNull bool
}

// TestAppendFieldNested writes records of nestedSchema batch by batch, every field with
// AppendField, over row groups with batches of no rows and one row, and a row group whose
// nested fields are all NULL, and the same batches with pqarrow's FileWriter, the same row
// groups: arrow-go, pyarrow and DuckDB read the same values from both files, and the values
// written; the row groups hold the same rows; every column chunk holds the same number of
// levels and NULLs; every statistic of pqfile's file is the true one (readback.CheckStatistics:
// pqarrow's are not, where a list leaf's batch mixes values with NULL or empty lists,
// TestListLeafStatistics); the stored Arrow schema is pqarrow's. With a map, arrow-go alone
// reads them back.
func TestAppendFieldNested(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	t.Run("lists and structs", func(t *testing.T) { checkNested(t, nestedSchema, seed, true) })
	t.Run("map", func(t *testing.T) { checkNested(t, nestedMapSchema, seed, false) })
}

// checkNested is TestAppendFieldNested for records of sc; readers: pyarrow and DuckDB read
// the files back too.
func checkNested(t *testing.T, sc *arrow.Schema, seed uint64, readers bool) {
	ctx := context.Background()
	plans := []nestedPlan{
		{batches: []int{300, 0, 1, 250}},
		{batches: []int{0, 2000, 3}},
		{batches: []int{120, 80}, allNull: true},
		{batches: []int{1}},
	}
	props := func() *parquet.WriterProperties {
		return parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true),
			parquet.WithDataPageSize(2048), parquet.WithDictionaryPageSizeLimit(512), parquet.WithMaxRowGroupLength(1<<20))
	}
	var recs [][]arrow.RecordBatch // per row group, its batches
	id := int64(0)
	for g, p := range plans {
		var batches []arrow.RecordBatch
		for _, n := range p.batches {
			batches = append(batches, nestedRecord(sc, n, id, seed+uint64(g), p.allNull))
			id += int64(n)
		}
		recs = append(recs, batches)
	}
	defer func() {
		for _, batches := range recs {
			for _, b := range batches {
				b.Release()
			}
		}
	}()

	dir := t.TempDir()
	ours, ref := filepath.Join(dir, "pqfile.parquet"), filepath.Join(dir, "pqarrow.parquet")
	writeNested(t, ours, sc, recs, props, heldPlan{})

	f, err := os.Create(ref)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(sc, f, props(), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	for _, batches := range recs {
		if err := fw.NewBufferedRowGroupChecked(); err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			if err := fw.WriteBuffered(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Values: arrow-go reads back what was written, from both files.
	var all []arrow.RecordBatch
	for _, batches := range recs {
		all = append(all, batches...)
	}
	want := array.NewTableFromRecords(sc, all)
	defer want.Release()
	for _, path := range []string{ours, ref} {
		got := readTable(t, path)
		for c := 0; c < int(want.NumCols()); c++ {
			a, b := concatColumn(t, want.Column(c)), concatColumn(t, got.Column(c))
			// Compared as text: the stored schema names list elements "element", not "item".
			if a.String() != b.String() {
				t.Errorf("%s: column %s reads back as\n%v\nwant\n%v", filepath.Base(path), want.Schema().Field(c).Name, b, a)
			}
			a.Release()
			b.Release()
		}
		got.Release()
	}
	for _, reader := range readback.Readers() {
		if !readers {
			break
		}
		a, err := readback.FromParquet(ctx, reader, "id", ref)
		if err != nil {
			t.Fatal(err)
		}
		b, err := readback.FromParquet(ctx, reader, "id", ours)
		if err != nil {
			t.Fatalf("%s: %v", reader, err)
		}
		if d := readback.Diff(a, b, 10); len(d) > 0 {
			t.Errorf("%s reads pqfile's file differently from pqarrow's:\n%s", reader, strings.Join(d, "\n"))
		}
	}

	// Layout: row groups, levels per chunk, statistics, the stored schema.
	ro, rr := openFile(t, ours), openFile(t, ref)
	defer ro.Close()
	defer rr.Close()
	if ro.NumRowGroups() != len(plans) || rr.NumRowGroups() != len(plans) {
		t.Fatalf("%d and %d row groups (pqfile's, pqarrow's), want %d", ro.NumRowGroups(), rr.NumRowGroups(), len(plans))
	}
	for g, p := range plans {
		rows := 0
		for _, n := range p.batches {
			rows += n
		}
		if a, b := ro.MetaData().RowGroup(g).NumRows(), rr.MetaData().RowGroup(g).NumRows(); a != int64(rows) || b != int64(rows) {
			t.Errorf("row group %d: %d rows, pqarrow's %d, want %d", g, a, b, rows)
		}
	}
	a, b := chunkStats(t, ours), chunkStats(t, ref)
	for g := range a {
		for c := range a[g] {
			if withoutMinMax(a[g][c]) != withoutMinMax(b[g][c]) {
				t.Errorf("row group %d column %s: %s, pqarrow's %s", g, ro.MetaData().Schema.Column(c).Path(), a[g][c], b[g][c])
			}
		}
	}
	if _, err := readback.CheckStatistics(ctx, ours); err != nil {
		t.Error(err)
	}
	ka, kb := ro.MetaData().KeyValueMetadata().FindValue("ARROW:schema"), rr.MetaData().KeyValueMetadata().FindValue("ARROW:schema")
	if ka == nil || kb == nil || *ka != *kb {
		t.Errorf("stored Arrow schema differs from pqarrow's")
	}
}

// withoutMinMax is a chunkStats description without its min and max.
func withoutMinMax(desc string) string {
	head, rest, ok := strings.Cut(desc, " min ")
	if !ok {
		return desc
	}
	_, tail, _ := strings.Cut(rest, ",")
	return head + "," + tail
}

// TestAppendFieldRefuses: AppendField refuses a field out of range, an array of another type,
// a field whose leaf was fed with AppendPages, a NULL list holding elements, and the row group
// takes the other fields' rows after; AppendArrow refuses a nested field's leaf.
func TestAppendFieldRefuses(t *testing.T) {
	ctx := context.Background()
	w, err := NewWriter(&bytes.Buffer{}, nestedSchema, parquet.NewWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	g, err := w.NewRowGroup(parquet.NewWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	rec := nestedRecord(nestedSchema, 50, 0, 1, false)
	defer rec.Release()
	lst, n, err := w.FieldColumns(8)
	if err != nil || n != 2 || lst != 9 {
		t.Errorf("FieldColumns(lst) = %d, %d, %v; want 9, 2", lst, n, err)
	}
	// A NULL list whose offsets hold an element, between two lists of one.
	vals := rec.Column(2).(*array.List)
	bad := array.NewListData(array.NewData(vals.DataType(), 3, []*memory.Buffer{memory.NewBufferBytes([]byte{0b101}),
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 1, 2, 3}))}, []arrow.ArrayData{vals.ListValues().Data()}, 1, 0))
	defer bad.Release()
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"field out of range", func() error { return g.AppendField(ctx, 10, rec.Column(0)) }, "field 10 of 10"},
		{"another type", func() error { return g.AppendField(ctx, 2, rec.Column(3)) }, "an array of list<element: utf8, nullable>"},
		// Then fed nothing: Abort closes its writer.
		{"nested leaf by AppendArrow", func() error { return g.AppendArrow(ctx, lst+1, vals.ListValues()) }, "only flat columns"},
		{"NULL list with elements", func() error { return g.AppendField(ctx, 2, bad) }, "rows up to 2: a NULL list with elements"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if err := g.AppendPages(lst, Encoded{}); err != nil {
		t.Fatal(err)
	}
	if err := g.AppendField(ctx, 8, rec.Column(8)); err == nil || !strings.Contains(err.Error(), "fed with AppendPages") {
		t.Errorf("AppendField of a column fed with AppendPages: %v", err)
	}
	// The row group is as it was: the other fields take their rows, and it closes.
	for i := 0; i < int(rec.NumCols()); i++ {
		if i == 8 {
			continue
		}
		if err := g.AppendField(ctx, i, rec.Column(i)); err != nil {
			t.Fatalf("field %d: %v", i, err)
		}
	}
	if err := g.Close(); err == nil || !strings.Contains(err.Error(), "holds 0 rows") {
		t.Errorf("Close with a field fed nothing: %v", err)
	}
	if err := g.Abort(); err != nil {
		t.Fatal(err)
	}
}

// readTable reads path with arrow-go.
func readTable(t *testing.T, path string) arrow.Table {
	t.Helper()
	r := openFile(t, path)
	defer r.Close()
	return tableOf(t, r)
}

// tableOf reads the whole file r with arrow-go's pqarrow reader.
func tableOf(t *testing.T, r *file.Reader) arrow.Table {
	t.Helper()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 1 << 20}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func openFile(t *testing.T, path string) *file.Reader {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// concatColumn is a column's chunks as one array.
func concatColumn(t *testing.T, c *arrow.Column) arrow.Array {
	t.Helper()
	a, err := array.Concatenate(c.Data().Chunks(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// writeNested writes recs (per row group, its batches) with AppendField, each row group with
// props(), the Writer's compressor and its calls as h says.
func writeNested(t *testing.T, path string, sc *arrow.Schema, recs [][]arrow.RecordBatch, props func() *parquet.WriterProperties, h heldPlan) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriterWith(f, sc, props(), WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), StoreSchema: true, Compressor: h.comp})
	if err != nil {
		t.Fatal(err)
	}
	for gi, batches := range recs {
		g, err := w.NewRowGroup(props())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			for i := 0; i < int(b.NumCols()); i++ {
				if err := g.AppendField(ctx, i, b.Column(i)); err != nil {
					t.Fatal(err)
				}
			}
			h.afterBatch(t, g)
		}
		h.beforeClose(t, g, gi)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestListLeafStatistics: the statistics of a leaf below a list that AppendField has arrow-go
// encode are the true ones where arrow-go v18.8.0's are not (writeLeaf): a batch holding as
// many values as NULL and empty lists (or empty inner lists) is not left out of min and max,
// which pqarrow's FileWriter writes 7 for a chunk holding 5, and a row group of NULL and empty
// lists only has no min and max, where pqarrow's claims min 2147483647 max -2147483648. Lists
// of ints, of structs, of lists, and of strings (whose arrow-go statistics were right); the
// same with data page V2, where a record holding both values and an empty inner list is
// refused rather than given wrong statistics. Each file's page and chunk statistics pass
// readback.CheckStatistics.
func TestListLeafStatistics(t *testing.T) {
	ctx := context.Background()
	ints := arrow.ListOf(arrow.PrimitiveTypes.Int32)
	structs := arrow.ListOf(arrow.StructOf(arrow.Field{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}))
	lists := arrow.ListOf(ints)
	strs := arrow.ListOf(arrow.BinaryTypes.String)
	le32 := func(v int32) string { return fmt.Sprintf("%x", binary.LittleEndian.AppendUint32(nil, uint32(v))) }
	le64 := func(v int64) string { return fmt.Sprintf("%x", binary.LittleEndian.AppendUint64(nil, uint64(v))) }
	for _, tc := range []struct {
		name    string
		typ     arrow.DataType
		v2      bool
		batches []string // JSON of the field's values, one row group
		want    string   // its chunk's statistics (chunkStats), or the error
	}{
		{"as many values as empty lists", ints, false, []string{`[[5, null], []]`, `[[7], [8]]`},
			"nulls 2 min " + le32(5) + " max " + le32(8) + ", 5 values"},
		{"as many values as NULL lists", ints, false, []string{`[[5], null]`, `[[7]]`},
			"nulls 1 min " + le32(5) + " max " + le32(7) + ", 3 values"},
		{"NULL and empty lists only", ints, false, []string{`[null, [], null]`, `[[]]`}, "nulls 4, 4 values"},
		{"NULL elements only", ints, false, []string{`[[null], null, [null, null]]`}, "nulls 4, 4 values"},
		{"lists of structs", structs, false, []string{`[[{"a": 5}], []]`, `[[{"a": 7}, null]]`},
			"nulls 2 min " + le64(5) + " max " + le64(7) + ", 4 values"},
		{"lists of lists", lists, false, []string{`[[[5], []]]`, `[[[7]]]`},
			"nulls 1 min " + le32(5) + " max " + le32(7) + ", 3 values"},
		{"lists of strings", strs, false, []string{`[["b", null], []]`, `[["c"]]`},
			"nulls 2 min " + fmt.Sprintf("%x max %x", "b", "c") + ", 4 values"},
		{"lists of NULL strings", strs, false, []string{`[[null], [null, null]]`}, "nulls 3, 3 values"},
		{"lists of NULL structs", structs, false, []string{`[[null], [{"a": null}]]`}, "nulls 2, 2 values"},
		{"data page V2", ints, true, []string{`[[5, null], []]`, `[[7], [8]]`},
			"nulls 2 min " + le32(5) + " max " + le32(8) + ", 5 values"},
		{"data page V2, a record of values and an empty list", lists, true, []string{`[[[5], []]]`},
			"a record of both values and NULL or empty lists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := arrow.NewSchema([]arrow.Field{{Name: "l", Type: tc.typ, Nullable: true}}, nil)
			opts := []parquet.WriterProperty{parquet.WithStats(true), parquet.WithDictionaryDefault(false)}
			if tc.v2 {
				opts = append(opts, parquet.WithDataPageVersion(parquet.DataPageV2))
			}
			props := parquet.NewWriterProperties(opts...)
			path := filepath.Join(t.TempDir(), "lists.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := NewWriterWith(f, sc, props, WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties()})
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			for _, js := range tc.batches {
				a, _, err := array.FromJSON(memory.DefaultAllocator, tc.typ, strings.NewReader(js))
				if err != nil {
					t.Fatal(err)
				}
				err = g.AppendField(ctx, 0, a)
				a.Release()
				if err != nil {
					if !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("AppendField: %v, want an error containing %q", err, tc.want)
					}
					if err := g.Abort(); err != nil {
						t.Fatal(err)
					}
					return
				}
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := chunkStats(t, path)[0][0]; got != tc.want {
				t.Errorf("chunk: %s, want %s", got, tc.want)
			}
			if _, err := readback.CheckStatistics(ctx, path); err != nil {
				t.Error(err)
			}
		})
	}
}
