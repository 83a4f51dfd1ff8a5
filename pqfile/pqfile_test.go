package pqfile

import (
	"context"
	"fmt"
	"math"
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
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/readback"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "r", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "allnull", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// testRecord makes n rows of testSchema from seed: NULL rates from 0 to 1, zeros of both
// signs, NaN, extreme values.
func testRecord(n int, seed uint64) arrow.RecordBatch {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := array.NewRecordBuilder(memory.DefaultAllocator, testSchema)
	defer b.Release()
	for row := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(row))
		if rng.IntN(10) == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int32Builder).Append([]int32{math.MinInt32, math.MaxInt32, 0, -1}[rng.IntN(4)] + int32(rng.IntN(100)))
		}
		switch rng.IntN(6) {
		case 0:
			b.Field(2).AppendNull()
		case 1:
			b.Field(2).(*array.Float64Builder).Append(math.Copysign(0, -1))
		case 2:
			b.Field(2).(*array.Float64Builder).Append(math.NaN())
		default:
			b.Field(2).(*array.Float64Builder).Append(rng.NormFloat64() * 1e6)
		}
		if rng.IntN(2) == 0 {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float32Builder).Append(float32(rng.NormFloat64()))
		}
		if rng.IntN(50) == 0 {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(rng.IntN(40000) - 20000))
		}
		if rng.IntN(3) == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(rng.Int64N(1 << 52)))
		}
		b.Field(6).AppendNull()
		if rng.IntN(4) == 0 {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.StringBuilder).Append(strings.Repeat("x", rng.IntN(20)))
		}
	}
	return b.NewRecordBatch()
}

// writeMixed writes rec as row groups of rowGroup rows through a Writer: the fixed-width
// columns encoded by EncodePlain (pages of pageRows rows), the string column by arrow-go.
func writeMixed(t *testing.T, path string, rec arrow.RecordBatch, rowGroup, pageRows int, codec compress.Compression) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f, rec.Schema(), parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithStats(true)))
	if err != nil {
		t.Fatal(err)
	}
	for start := int64(0); start < rec.NumRows() || start == 0; start += int64(rowGroup) {
		end := min(start+int64(rowGroup), rec.NumRows())
		slice := rec.NewSlice(start, end)
		chunks := make([]Chunk, slice.NumCols())
		for i, col := range slice.Columns() {
			if col.DataType().ID() == arrow.STRING {
				chunks[i] = Arrow{Array: col}
				continue
			}
			enc, err := EncodePlain(col, rec.Schema().Field(i).Nullable, pageRows, codec)
			if err != nil {
				t.Fatal(err)
			}
			chunks[i] = enc
		}
		if err := w.WriteRowGroup(context.Background(), int(end-start), chunks); err != nil {
			t.Fatal(err)
		}
		slice.Release()
		if rec.NumRows() == 0 {
			break
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeReference writes rec with arrow-go's own writer, the same row groups.
func writeReference(t *testing.T, path string, rec arrow.RecordBatch, rowGroup int, codec compress.Compression) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, parquet.NewWriterProperties(parquet.WithCompression(codec),
		parquet.WithStats(true), parquet.WithMaxRowGroupLength(int64(rowGroup)), parquet.WithDictionaryDefault(false)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMixedFileReadsBack writes random records through a Writer (encoded pages beside
// arrow-go's column chunks) and through arrow-go's own writer: pyarrow and DuckDB read the same
// values from both, arrow-go reads both as the record, the row groups hold the same rows and
// every column chunk the same statistics.
func TestMixedFileReadsBack(t *testing.T) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for _, tc := range []struct {
		name              string
		rows, group, page int
		codec             compress.Compression
	}{
		{"zstd, pages inside row groups", 5000, 2000, 700, compress.Codecs.Zstd},
		{"snappy, one page per row group", 3000, 1000, 1000, compress.Codecs.Snappy},
		{"uncompressed, one row", 1, 10, 10, compress.Codecs.Uncompressed},
		{"gzip, pages of one row", 20, 20, 1, compress.Codecs.Gzip},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := testRecord(tc.rows, seed)
			defer rec.Release()
			dir := t.TempDir()
			mixed, ref := filepath.Join(dir, "mixed.parquet"), filepath.Join(dir, "ref.parquet")
			writeMixed(t, mixed, rec, tc.group, tc.page, tc.codec)
			writeReference(t, ref, rec, tc.group, tc.codec)

			readersAgree(ctx, t, ref, mixed)
			got := readArrow(t, mixed)
			defer got.Release()
			if !array.RecordApproxEqual(rec, got, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Errorf("arrow-go reads another record back:\n%v\nwant\n%v", got, rec)
			}
			a, b := chunkStats(t, mixed), chunkStats(t, ref)
			if len(a) != len(b) {
				t.Fatalf("%d row groups, arrow-go's file has %d", len(a), len(b))
			}
			for g := range a {
				for c := range a[g] {
					if a[g][c] != b[g][c] {
						t.Errorf("row group %d column %d: %s, arrow-go's %s", g, c, a[g][c], b[g][c])
					}
				}
			}
		})
	}
}

// readArrow reads path with arrow-go into one record.
func readArrow(t *testing.T, path string) arrow.RecordBatch {
	t.Helper()
	tbl := readTable(t, path)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, tbl.NumRows()+1)
	defer tr.Release()
	if !tr.Next() {
		return array.NewRecordBatch(tbl.Schema(), nil, 0)
	}
	rec := tr.RecordBatch()
	rec.Retain()
	return rec
}

// chunkStats describes each column chunk of path: rows, NULL count, min and max as stored.
func chunkStats(t *testing.T, path string) [][]string {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]string
	for g := 0; g < r.NumRowGroups(); g++ {
		rg := r.MetaData().RowGroup(g)
		var cols []string
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			desc := "no statistics"
			if st, ok := storedStats(t, cc); ok {
				desc = statsText(st)
			}
			cols = append(cols, fmt.Sprintf("%s, %d values", desc, cc.NumValues()))
		}
		out = append(out, cols)
	}
	return out
}

// storedStats is the statistics the column chunk stores, if any.
func storedStats(t *testing.T, cc *metadata.ColumnChunkMetaData) (metadata.EncodedStatistics, bool) {
	t.Helper()
	if set, _ := cc.StatsSet(); !set {
		return metadata.EncodedStatistics{}, false
	}
	st, err := cc.Statistics()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return enc, true
}

func statsText(s metadata.EncodedStatistics) string {
	out := fmt.Sprintf("nulls %d", s.NullCount)
	if s.HasMin {
		out += fmt.Sprintf(" min %x", s.Min)
	}
	if s.HasMax {
		out += fmt.Sprintf(" max %x", s.Max)
	}
	return out
}

// readersAgree fails t unless every independent reader (readback.Readers: pyarrow, DuckDB)
// reads path as it reads ref, the same rows written by pqarrow's FileWriter (ordered by id).
func readersAgree(ctx context.Context, t *testing.T, ref, path string) {
	t.Helper()
	for _, reader := range readback.Readers() {
		want, err := readback.FromParquet(ctx, reader, "id", ref)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readback.FromParquet(ctx, reader, "id", path)
		if err != nil {
			t.Fatalf("%s: %v", reader, err)
		}
		if d := readback.Diff(want, got, 5); len(d) > 0 {
			t.Fatalf("%s reads %s differently from pqarrow's file:\n%s", reader, filepath.Base(path), strings.Join(d, "\n"))
		}
	}
}
