package pqfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/readback"
)

// rgPlan is a row group of the batch-by-batch test: its batches' sizes, the props of its
// AppendArrow columns, and whether each batch of the dictionary column brings its own copy of
// the dictionary (else the same array for the whole row group).
type rgPlan struct {
	batches   []int
	props     []parquet.WriterProperty
	freshDict bool
}

// fedWithPages are the columns of testSchema fed with AppendPages (EncodePlain); r and ts are
// fed with AppendArrow, s with AppendArrow as dictionary arrays, or AppendDictionary where
// arrow-go's statistics are off for it (its chunk statistics are then computed by pqfile).
var fedWithPages = map[string]bool{"id": true, "i": true, "f": true, "d": true, "allnull": true}

// testPlans: several batches per row group, zero-row and one-row batches, a row group of no
// rows; dictionary and statistics turned off for one row group, a dictionary fallback.
var testPlans = []rgPlan{
	{batches: []int{1000, 0, 1, 2500}, props: []parquet.WriterProperty{parquet.WithDictionaryPageSizeLimit(4096)}},
	{batches: []int{1, 700, 0}, props: []parquet.WriterProperty{parquet.WithDictionaryFor("s", false)}},
	{batches: []int{3000, 1200, 1}, props: []parquet.WriterProperty{parquet.WithStatsFor("ts", false), parquet.WithStatsFor("s", false)}, freshDict: true},
	{batches: []int{0, 0}},
	{batches: []int{1}},
}

// statsOff says whether plan turns statistics off for column name.
func (p rgPlan) statsOff(name string) bool {
	return !parquet.NewWriterProperties(p.props...).StatisticsEnabledFor(name)
}

func (p rgPlan) dictOff(name string) bool {
	return !parquet.NewWriterProperties(p.props...).DictionaryEnabledFor(name)
}

func (p rgPlan) rows() int {
	n := 0
	for _, b := range p.batches {
		n += b
	}
	return n
}

// testDictionary is the dictionary of column s: every value testRecord writes, and "zzz", never
// written, which must not show in any statistics.
func testDictionary() *array.String {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	b.Append("zzz")
	for n := 19; n >= 0; n-- {
		b.Append(strings.Repeat("x", n))
	}
	return b.NewStringArray()
}

// asDictionary returns s's values as indices into dict.
func asDictionary(t *testing.T, s *array.String, dict *array.String) *array.Dictionary {
	t.Helper()
	index := map[string]int32{}
	for i := range dict.Len() {
		index[dict.Value(i)] = int32(i)
	}
	b := array.NewInt32Builder(memory.DefaultAllocator)
	defer b.Release()
	for i := range s.Len() {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		k, ok := index[s.Value(i)]
		if !ok {
			t.Fatalf("%q is not in the dictionary", s.Value(i))
		}
		b.Append(k)
	}
	indices := b.NewArray()
	defer indices.Release()
	return array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, indices, dict)
}

// writeBatches writes rec, in order, as the row groups of plans, each built batch by batch.
func writeBatches(t *testing.T, path string, rec arrow.RecordBatch, plans []rgPlan, pageRows int, codec compress.Compression) {
	t.Helper()
	writeBatchesHeld(t, path, rec, plans, pageRows, codec, heldPlan{})
}

// writeBatchesHeld is writeBatches with the Writer's compressor and its calls as h says.
func writeBatchesHeld(t *testing.T, path string, rec arrow.RecordBatch, plans []rgPlan, pageRows int, codec compress.Compression, h heldPlan) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriterWith(f, rec.Schema(), parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithStats(true)),
		WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), StoreSchema: true, Compressor: h.comp})
	if err != nil {
		t.Fatal(err)
	}
	start := int64(0)
	for gi, plan := range plans {
		props := parquet.NewWriterProperties(append([]parquet.WriterProperty{parquet.WithStats(true), parquet.WithDataPageSize(2048)}, plan.props...)...)
		g, err := w.NewRowGroup(props)
		if err != nil {
			t.Fatal(err)
		}
		before := w.Bytes()
		dict := testDictionary()
		inGroup := int64(0)
		for _, n := range plan.batches {
			batch := rec.NewSlice(start, start+int64(n))
			for i, col := range batch.Columns() {
				name := rec.Schema().Field(i).Name
				switch {
				case fedWithPages[name]:
					var enc Encoded
					if enc, err = EncodePlain(col, rec.Schema().Field(i).Nullable, pageRows, codec); err != nil {
						t.Fatal(err)
					}
					err = g.AppendPages(i, enc)
				case name == "s":
					d := dict
					if plan.freshDict {
						d = testDictionary()
					}
					da := asDictionary(t, col.(*array.String), d)
					if plan.statsOff("s") {
						err = g.AppendDictionary(ctx, i, da) // exact chunk statistics of its own
					} else {
						err = g.AppendArrow(ctx, i, da)
					}
					da.Release()
					if plan.freshDict {
						d.Release()
					}
				default:
					err = g.AppendArrow(ctx, i, col)
				}
				if err != nil {
					t.Fatalf("row group %d, column %s: %v", gi, name, err)
				}
			}
			batch.Release()
			start += int64(n)
			inGroup += int64(n)
			h.afterBatch(t, g)
			if g.Rows() != inGroup {
				t.Errorf("row group %d: Rows %d after %d rows", gi, g.Rows(), inGroup)
			}
		}
		dict.Release()
		if plan.rows() > 0 && g.Bytes() <= 0 {
			t.Errorf("row group %d: Bytes %d with %d rows", gi, g.Bytes(), plan.rows())
		}
		if w.Bytes() != before {
			t.Errorf("row group %d: the file grew from %d to %d bytes before Close", gi, before, w.Bytes())
		}
		h.beforeClose(t, g, gi)
		estimate := g.Bytes()
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		// The estimate counts the page being filled and the dictionary uncompressed, without
		// the headers they will have.
		if added := w.Bytes() - before; estimate < added-64*int64(rec.NumCols()) || estimate > 3*added+16<<10 {
			t.Errorf("row group %d: Bytes %d, the file grew by %d", gi, estimate, added)
		}
		if plan.rows() > 0 && w.Bytes() <= before {
			t.Errorf("row group %d: the file did not grow (%d bytes) at Close", gi, w.Bytes())
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRowGroupBatchByBatch writes row groups batch by batch (columns of encoded pages beside
// columns arrow-go encodes, a string column fed as dictionary arrays, per-row-group props) with
// every codec, and reads the file back: pyarrow and DuckDB read the values arrow-go's own writer
// gives them for the whole record, arrow-go reads the record; the row groups hold the rows
// planned, every column chunk and every data page the exact statistics of its rows (as arrow-go
// and pyarrow read them), a dictionary page only where one is due.
func TestRowGroupBatchByBatch(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PGPARQUET_TEST_SEED"); s != "" { // a failing run's seed, to replay it
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d", seed)
	total := 0
	for _, p := range testPlans {
		total += p.rows()
	}
	for _, tc := range []struct {
		name     string
		codec    compress.Compression
		pageRows int
	}{
		{"uncompressed", compress.Codecs.Uncompressed, 500},
		{"snappy", compress.Codecs.Snappy, 1000},
		{"zstd", compress.Codecs.Zstd, 333},
		{"gzip", compress.Codecs.Gzip, 4000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := testRecord(total, seed)
			defer rec.Release()
			dir := t.TempDir()
			path, ref := filepath.Join(dir, "batches.parquet"), filepath.Join(dir, "ref.parquet")
			writeBatches(t, path, rec, testPlans, tc.pageRows, tc.codec)
			writeReference(t, ref, rec, total, tc.codec)

			readersAgree(ctx, t, ref, path)
			got := readArrow(t, path)
			defer got.Release()
			if !array.RecordApproxEqual(rec, got, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Errorf("arrow-go reads another record back:\n%v\nwant\n%v", got, rec)
			}

			want := wantChunks(rec, testPlans)
			checkChunks(t, "arrow-go", chunkStats(t, path), want)
			checkChunks(t, "pyarrow", pyarrowChunks(t, path), want)
			checkLayout(t, path, rec, testPlans)
		})
	}
}

// wantChunks describes, as chunkStats does, each column chunk of rec written as plans: its
// rows' exact statistics (none where the row group's props turn them off; none for a chunk of no
// rows that arrow-go encoded, as arrow-go writes it) and its values.
func wantChunks(rec arrow.RecordBatch, plans []rgPlan) [][]string {
	var out [][]string
	start := 0
	for _, p := range plans {
		var cols []string
		for i, col := range rec.Columns() {
			name := rec.Schema().Field(i).Name
			desc := trueStats(col, start, start+p.rows())
			dictStats := name == "s" && p.statsOff(name) && !p.dictOff(name)
			if !fedWithPages[name] && !dictStats && (p.statsOff(name) || p.rows() == 0) {
				desc = "no statistics"
			}
			cols = append(cols, fmt.Sprintf("%s, %d values", desc, p.rows()))
		}
		out = append(out, cols)
		start += p.rows()
	}
	return out
}

// trueStats computes the statistics of rows [lo, hi) of a, as statsText writes them: the NULL
// count, and the minimum and maximum in their PLAIN form (NaN left out, a zero minimum as -0.0
// and a zero maximum as +0.0, strings compared bytewise).
func trueStats(a arrow.Array, lo, hi int) string {
	nulls := 0
	var minV, maxV []byte
	less := func(x, y []byte) bool { return bytes.Compare(x, y) < 0 }
	var key func(i int) ([]byte, bool)
	switch a := a.(type) {
	case *array.Int32, *array.Date32, *array.Int64, *array.Timestamp:
		less = func(x, y []byte) bool { return leInt(x) < leInt(y) }
		key = func(i int) ([]byte, bool) { return plainValue(a, i) }
	case *array.Float32:
		less = func(x, y []byte) bool { return leFloat(x) < leFloat(y) }
		key = func(i int) ([]byte, bool) {
			return binary.LittleEndian.AppendUint32(nil, math.Float32bits(a.Value(i))), !math.IsNaN(float64(a.Value(i)))
		}
	case *array.Float64:
		less = func(x, y []byte) bool { return leFloat(x) < leFloat(y) }
		key = func(i int) ([]byte, bool) {
			return binary.LittleEndian.AppendUint64(nil, math.Float64bits(a.Value(i))), !math.IsNaN(a.Value(i))
		}
	case *array.String:
		key = func(i int) ([]byte, bool) { return []byte(a.Value(i)), true }
	case *array.Binary:
		key = func(i int) ([]byte, bool) { return append([]byte{}, a.Value(i)...), true }
	case *array.FixedSizeBinary:
		key = func(i int) ([]byte, bool) { return append([]byte{}, a.Value(i)...), true }
	case array.ExtensionArray:
		return trueStats(a.Storage(), lo, hi)
	default:
		panic(fmt.Sprintf("no statistics for %s", a.DataType()))
	}
	for i := lo; i < hi; i++ {
		if a.IsNull(i) {
			nulls++
			continue
		}
		v, ok := key(i)
		if !ok {
			continue
		}
		if minV == nil || less(v, minV) {
			minV = v
		}
		if maxV == nil || less(maxV, v) {
			maxV = v
		}
	}
	out := fmt.Sprintf("nulls %d", nulls)
	if minV == nil {
		return out
	}
	switch a.DataType().ID() {
	case arrow.FLOAT32:
		if leFloat(minV) == 0 {
			minV = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(math.Copysign(0, -1))))
		}
		if leFloat(maxV) == 0 {
			maxV = binary.LittleEndian.AppendUint32(nil, 0)
		}
	case arrow.FLOAT64:
		if leFloat(minV) == 0 {
			minV = binary.LittleEndian.AppendUint64(nil, math.Float64bits(math.Copysign(0, -1)))
		}
		if leFloat(maxV) == 0 {
			maxV = binary.LittleEndian.AppendUint64(nil, 0)
		}
	}
	return out + fmt.Sprintf(" min %x max %x", minV, maxV)
}

// leInt reads a little-endian int32 or int64.
func leInt(b []byte) int64 {
	if len(b) == 4 {
		return int64(int32(binary.LittleEndian.Uint32(b)))
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// leFloat reads a little-endian float32 or float64.
func leFloat(b []byte) float64 {
	if len(b) == 4 {
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// checkChunks compares a reader's description of the chunks with want's.
func checkChunks(t *testing.T, reader string, got, want [][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s reads %d row groups, want %d", reader, len(got), len(want))
	}
	for g := range want {
		if len(got[g]) != len(want[g]) {
			t.Fatalf("%s: row group %d has %d columns, want %d", reader, g, len(got[g]), len(want[g]))
		}
		for c := range want[g] {
			if got[g][c] != want[g][c] {
				t.Errorf("%s: row group %d column %s: %s, want %s", reader, g, testSchema.Field(c).Name, got[g][c], want[g][c])
			}
		}
	}
}

// pyarrowChunks describes each column chunk of path as pyarrow reads its metadata, as
// chunkStats does, and checks that each row group's rows are its chunks' values.
func pyarrowChunks(t *testing.T, path string) [][]string {
	t.Helper()
	return pyarrowChunksOf(t, path, true)
}

// pyarrowChunksOf is pyarrowChunks; without checkRows, row groups may have fewer rows than
// values (list columns, whose levels outnumber the rows).
func pyarrowChunksOf(t *testing.T, path string, checkRows bool) [][]string {
	t.Helper()
	py, err := readback.Python()
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import json, struct, sys
import pyarrow.parquet as pq

def plain(v, physical):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, str):
        return v.encode().hex()
    return struct.pack({"INT32": "<i", "INT64": "<q", "FLOAT": "<f", "DOUBLE": "<d"}[physical], v).hex()

md = pq.ParquetFile(sys.argv[1]).metadata
out = []
for g in range(md.num_row_groups):
    rg = md.row_group(g)
    cols = []
    for c in range(rg.num_columns):
        cc = rg.column(c)
        s = cc.statistics if cc.is_stats_set else None
        if s is None:
            desc = "no statistics"
        else:
            desc = "nulls %s" % (s.null_count if s.has_null_count else "?")
            if s.has_min_max:
                desc += " min %s max %s" % (plain(s.min_raw, s.physical_type), plain(s.max_raw, s.physical_type))
        cols.append("%s, %d values" % (desc, cc.num_values))
    if sys.argv[2] == "rows" and cols and rg.num_rows != max(rg.column(c).num_values for c in range(rg.num_columns)):
        raise SystemExit("row group %d: %d rows" % (g, rg.num_rows))
    out.append(cols)
print(json.dumps(out))
`
	check := "no"
	if checkRows {
		check = "rows"
	}
	cmd := exec.Command(py, "-c", script, path, check)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyarrow reads the metadata of %s: %v\n%s", path, err, stderr.String())
	}
	var out [][]string
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLayout checks what the column chunks' metadata says of their pages, and reads every
// page: the row groups' rows (as arrow-go and DuckDB read them), a dictionary page only in the
// chunks arrow-go dictionary-encoded (never one fed with pages), its offset before the data's,
// the chunk's offset as the row group's, the encodings, and each data page's exact statistics.
func checkLayout(t *testing.T, path string, rec arrow.RecordBatch, plans []rgPlan) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.NumRowGroups() != len(plans) {
		t.Fatalf("%d row groups, want %d", r.NumRowGroups(), len(plans))
	}
	duck := duckdbRows(t, path)
	start := 0
	for g, plan := range plans {
		rgm := r.MetaData().RowGroup(g)
		if rgm.NumRows() != int64(plan.rows()) || duck[g] != int64(plan.rows()) {
			t.Errorf("row group %d: %d rows (DuckDB: %d), want %d", g, rgm.NumRows(), duck[g], plan.rows())
		}
		for c := 0; c < rgm.NumColumns(); c++ {
			name := rec.Schema().Field(c).Name
			cc, err := rgm.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			chunkStart := cc.DataPageOffset()
			if cc.HasDictionaryPage() {
				chunkStart = cc.DictionaryPageOffset()
				if cc.DictionaryPageOffset() >= cc.DataPageOffset() {
					t.Errorf("row group %d column %s: dictionary page at %d, data at %d", g, name, cc.DictionaryPageOffset(), cc.DataPageOffset())
				}
			}
			if c == 0 && rgm.FileOffset() != chunkStart {
				t.Errorf("row group %d: file offset %d, its first chunk starts at %d", g, rgm.FileOffset(), chunkStart)
			}
			// arrow-go may give up the dictionary of r and ts (values seldom repeated);
			// s's values always repeat.
			switch {
			case (fedWithPages[name] || plan.dictOff(name) || plan.rows() == 0) && cc.HasDictionaryPage():
				t.Errorf("row group %d column %s: a dictionary page", g, name)
			case name == "s" && !plan.dictOff(name) && plan.rows() >= 1000 && !cc.HasDictionaryPage():
				t.Errorf("row group %d column %s: no dictionary page", g, name)
			}
			encodings := fmt.Sprint(cc.Encodings())
			if fedWithPages[name] && encodings != fmt.Sprint([]parquet.Encoding{parquet.Encodings.Plain, parquet.Encodings.RLE}) {
				t.Errorf("row group %d column %s: encodings %s", g, name, encodings)
			}
			pr, err := r.RowGroup(g).GetColumnPageReader(c)
			if err != nil {
				t.Fatal(err)
			}
			row, pages, dicts := start, 0, 0
			for pr.Next() {
				switch p := pr.Page().(type) {
				case *file.DictionaryPage:
					if pages > 0 || !cc.HasDictionaryPage() || dicts > 0 {
						t.Errorf("row group %d column %s: a dictionary page after %d data pages, %d dictionary pages", g, name, pages, dicts)
					}
					dicts++
				case *file.DataPageV1:
					want := trueStats(rec.Column(c), row, row+int(p.NumValues()))
					if !fedWithPages[name] && plan.statsOff(name) {
						want = "no statistics"
					}
					st := p.Statistics()
					got := "no statistics"
					if st.IsSet() {
						got = statsText(st)
					}
					if got != want {
						t.Errorf("row group %d column %s page %d (rows %d+%d): %s, want %s", g, name, pages, row, p.NumValues(), got, want)
					}
					if p.NumValues() == 0 {
						t.Errorf("row group %d column %s: page %d of no rows", g, name, pages)
					}
					row += int(p.NumValues())
					pages++
				default:
					t.Errorf("row group %d column %s: page %T", g, name, p)
				}
			}
			if err := pr.Err(); err != nil {
				t.Fatalf("row group %d column %s: %v", g, name, err)
			}
			if cc.HasDictionaryPage() && dicts != 1 {
				t.Errorf("row group %d column %s: %d dictionary pages", g, name, dicts)
			}
			if row != start+plan.rows() {
				t.Errorf("row group %d column %s: pages of %d rows, want %d", g, name, row-start, plan.rows())
			}
		}
		start += plan.rows()
	}
}

// duckdbRows is the rows of each row group of path as DuckDB reads its metadata.
func duckdbRows(t *testing.T, path string) []int64 {
	t.Helper()
	py, err := readback.Python()
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys
import duckdb
rows = duckdb.execute("select row_group_id, any_value(row_group_num_rows) from parquet_metadata(?) group by 1 order by 1", [sys.argv[1]]).fetchall()
print(json.dumps([r[1] for r in rows]))
`
	cmd := exec.Command(py, "-c", script, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("DuckDB reads the metadata of %s: %v\n%s", path, err, stderr.String())
	}
	var out []int64
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRowGroupRefuses checks the row group's contract: Close with columns of different row
// counts fails naming a column and writes nothing, one row group at a time, the file not closed
// with a row group open, a column not fed both ways; an aborted row group leaves no trace and
// the file goes on.
func TestRowGroupRefuses(t *testing.T) {
	ctx := context.Background()
	rec := testRecord(10, 1)
	defer rec.Release()
	// feed appends rows [lo, hi) of rec to every column of g, columns in skip left out.
	feed := func(t *testing.T, g *RowGroup, lo, hi int64, skip map[int]bool) {
		t.Helper()
		batch := rec.NewSlice(lo, hi)
		defer batch.Release()
		for i, col := range batch.Columns() {
			if skip[i] {
				continue
			}
			var err error
			if fedWithPages[rec.Schema().Field(i).Name] {
				var enc Encoded
				if enc, err = EncodePlain(col, rec.Schema().Field(i).Nullable, 4, compress.Codecs.Snappy); err != nil {
					t.Fatal(err)
				}
				err = g.AppendPages(i, enc)
			} else {
				err = g.AppendArrow(ctx, i, col)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name string
		// build misuses the open row group g of w, and returns the error wanted, containing want.
		build func(t *testing.T, w *Writer, g *RowGroup) error
		want  string
	}{
		{"unequal rows", func(t *testing.T, w *Writer, g *RowGroup) error {
			feed(t, g, 0, 5, nil)
			feed(t, g, 5, 7, map[int]bool{5: true})
			return g.Close()
		}, "column ts holds 5 rows, column id 7"},
		{"a page-fed column short", func(t *testing.T, w *Writer, g *RowGroup) error {
			feed(t, g, 0, 3, map[int]bool{2: true})
			return g.Close()
		}, "column f holds 0 rows, column id 3"},
		{"a second row group", func(t *testing.T, w *Writer, g *RowGroup) error {
			_, err := w.NewRowGroup(parquet.NewWriterProperties())
			return err
		}, "while row group 1 is open"},
		{"file closed with a row group open", func(t *testing.T, w *Writer, g *RowGroup) error {
			feed(t, g, 0, 2, nil)
			return w.Close()
		}, "with row group 1 open"},
		{"pages then arrow", func(t *testing.T, w *Writer, g *RowGroup) error {
			enc, err := EncodePlain(rec.Column(0), false, 4, compress.Codecs.Snappy)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.AppendPages(0, enc); err != nil {
				t.Fatal(err)
			}
			return g.AppendArrow(ctx, 0, rec.Column(0))
		}, "column id: AppendArrow in a row group where it was fed with AppendPages"},
		{"another format version", func(t *testing.T, w *Writer, g *RowGroup) error {
			if err := g.Abort(); err != nil {
				t.Fatal(err)
			}
			_, err := w.NewRowGroup(parquet.NewWriterProperties(parquet.WithVersion(parquet.V1_0)))
			return err
		}, "format version"},
		{"WriteRowGroup of wrong rows", func(t *testing.T, w *Writer, g *RowGroup) error {
			if err := g.Abort(); err != nil {
				t.Fatal(err)
			}
			chunks := make([]Chunk, rec.NumCols())
			for i, col := range rec.Columns() {
				chunks[i] = Arrow{Array: col}
			}
			return w.WriteRowGroup(ctx, 9, chunks)
		}, "a row group of 9 rows whose chunks hold 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := NewWriter(f, rec.Schema(), parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy)))
			if err != nil {
				t.Fatal(err)
			}
			// A first row group, written.
			g, err := w.NewRowGroup(parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			feed(t, g, 0, 4, nil)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			size := w.Bytes()
			g, err = w.NewRowGroup(parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			err = tc.build(t, w, g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			t.Log(err)
			if w.Bytes() != size {
				t.Errorf("the file grew from %d to %d bytes", size, w.Bytes())
			}
			if err := g.Abort(); err != nil {
				t.Fatal(err)
			}
			if err := g.Abort(); err != nil {
				t.Errorf("a second Abort: %v", err)
			}
			if err := g.Close(); err == nil {
				t.Error("Close after Abort succeeds")
			}
			if w.Bytes() != size {
				t.Errorf("the file grew from %d to %d bytes at Abort", size, w.Bytes())
			}
			// The file goes on: a last row group, then the footer.
			g, err = w.NewRowGroup(parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			feed(t, g, 4, 10, nil)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := readArrow(t, path)
			defer got.Release()
			if !array.RecordApproxEqual(rec, got, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Errorf("arrow-go reads another record back:\n%v\nwant\n%v", got, rec)
			}
			want := wantChunks(rec, []rgPlan{{batches: []int{4}}, {batches: []int{6}}})
			checkChunks(t, "arrow-go", chunkStats(t, path), want)
			checkChunks(t, "pyarrow", pyarrowChunks(t, path), want)
		})
	}
}

// TestAppendPagesMergesStatistics checks the chunk statistics merged from AppendPages calls
// whose statistics are partial: a call without any leaves the chunk without statistics, one
// without a NULL count leaves it without a NULL count; min and max come by the column's type
// (negative values in their two's complement compare below positive ones).
func TestAppendPagesMergesStatistics(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	le := func(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
	full := func(lo, hi, nulls int64) metadata.EncodedStatistics {
		return metadata.EncodedStatistics{HasMin: true, Min: le(lo), HasMax: true, Max: le(hi), HasNullCount: true, NullCount: nulls}
	}
	for _, tc := range []struct {
		name  string
		calls []metadata.EncodedStatistics
		want  string
	}{
		{"by type", []metadata.EncodedStatistics{full(3, 9, 1), full(-5, 2, 0), {HasNullCount: true, NullCount: 2}, full(1, 1, 0)},
			fmt.Sprintf("nulls 3 min %x max %x", le(-5), le(9))},
		{"a call without statistics", []metadata.EncodedStatistics{full(3, 9, 1), {}}, "no statistics"},
		{"a call without NULL count", []metadata.EncodedStatistics{full(3, 9, 1), {HasMin: true, Min: le(10), HasMax: true, Max: le(10)}},
			fmt.Sprintf("nulls ? min %x max %x", le(3), le(10))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := NewWriter(f, sc, parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(parquet.NewWriterProperties())
			if err != nil {
				t.Fatal(err)
			}
			b := array.NewInt64Builder(memory.DefaultAllocator)
			for _, st := range tc.calls {
				// Two rows, NULL or not as the statistics say: the values are not read back.
				b.AppendValues([]int64{0, 0}, nil)
				arr := b.NewArray()
				enc, err := EncodePlain(arr, true, 10, compress.Codecs.Uncompressed)
				arr.Release()
				if err != nil {
					t.Fatal(err)
				}
				enc.Stats = st
				if err := g.AppendPages(0, enc); err != nil {
					t.Fatal(err)
				}
			}
			b.Release()
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// arrow-go reads a NULL count of 0 where none is stored: pyarrow says.
			got := pyarrowChunks(t, path)[0][0]
			if want := tc.want + fmt.Sprintf(", %d values", 2*len(tc.calls)); got != want {
				t.Errorf("chunk statistics %s, want %s", got, want)
			}
		})
	}
}

// TestAppendArrowEmptyStrings: a dictionary array of only empty values, fed with statistics on
// (AppendArrow takes it dense), counts "" in the chunk's minimum, alone and beside a batch of
// other values (a Take of only empty values has no value buffer, whose values arrow-go's
// statistics skipped).
func TestAppendArrowEmptyStrings(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	dict := stringArray([]string{"", "b"})
	defer dict.Release()
	for _, tc := range []struct {
		name    string
		batches [][]string
		want    string
	}{
		{"only empty", [][]string{{""}}, `nulls 0 min "" max ""`},
		{"empty batch then another", [][]string{{"", ""}, {"b"}}, `nulls 0 min "" max "b"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.parquet")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			props := parquet.NewWriterProperties(parquet.WithStats(true))
			w, err := NewWriter(f, sc, props)
			if err != nil {
				t.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				t.Fatal(err)
			}
			for _, vals := range tc.batches {
				s := stringArray(vals)
				d := asDictionary(t, s.(*array.String), dict.(*array.String))
				if err := g.AppendArrow(context.Background(), 0, d); err != nil {
					t.Fatal(err)
				}
				d.Release()
				s.Release()
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := file.OpenParquetFile(path, false)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			cc, err := r.MetaData().RowGroup(0).ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			st, err := cc.Statistics()
			if err != nil || st == nil {
				t.Fatalf("no statistics: %v", err)
			}
			e, err := st.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("nulls %d min %q max %q", e.NullCount, e.Min, e.Max)
			if !e.HasMin {
				got = fmt.Sprintf("nulls %d, no min or max", e.NullCount)
			}
			if got != tc.want {
				t.Errorf("chunk statistics %s, want %s", got, tc.want)
			}
		})
	}
}
