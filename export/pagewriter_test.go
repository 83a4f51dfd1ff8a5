package export_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/outcome"
)

// TestPageWriterValues runs exports through the GPU writer's file path (pqfile: fixed-width
// columns as pre-encoded pages, the rest encoded by arrow-go in the same row groups) with the
// CPU twin of the GPU's encoder ($PGPARQUET_PAGE_WRITER=cpu), on a flat table of every type
// (vals without its array and interval columns, which are nested in Parquet): every value
// equal to PostgreSQL's, read back by pyarrow and DuckDB, for every codec; every row group's
// statistics of the pre-encoded columns equal to the true min, max and NULL count of its
// values; the same Parquet types as the arrow-go writer's files. The whole of vals, its array
// and interval columns a list and a struct in Parquet, goes through the same path: every value
// equal to PostgreSQL's, and the nested columns' chunks as the arrow-go writer writes them
// (statistics where it keeps them: not below a list). Every file's statistics, the arrow-go
// writer's too, are the true ones (checkStatistics).
func TestPageWriterValues(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	version := serverVersion(t, conn)
	for _, sql := range forServer(t, version, []string{valuesDDL, valuesRows, valuesGenerated}, valuesEdits...) {
		pgtest.Exec(t, conn, sql)
	}
	pgtest.Exec(t, conn, "CREATE TABLE flatvals AS SELECT * FROM vals; ALTER TABLE flatvals DROP COLUMN arr, DROP COLUMN iv; ANALYZE flatvals; ANALYZE vals")
	cols, err := readback.ColumnsOf(ctx, conn, "flatvals")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "flatvals", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	arrowDir := t.TempDir()
	t.Run("arrow-go", func(t *testing.T) {
		t.Setenv("PGPARQUET_PAGE_WRITER", "off")
		if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "flatvals", OutputDir: arrowDir, Parallel: 1}); err != nil {
			t.Fatal(err)
		}
		checkStatistics(t, arrowDir)
	})
	t.Setenv("PGPARQUET_PAGE_WRITER", "cpu")
	for _, compression := range []string{"zstd", "snappy", "gzip", "lz4", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := t.TempDir()
			logs := &syncBuffer{}
			res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "flatvals", OutputDir: dir,
				Parallel: 3, Chunks: 9, Compression: compression, RowGroupSize: 500, BufferSize: 64 << 10,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			pageWriterExported(ctx, t, res, logs, want, dir)
			files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
			groups := 0
			for _, f := range files {
				groups += checkPlainStats(t, f)
			}
			if groups < 6 {
				t.Errorf("%d row groups in %d files: want row groups of at most 500 rows", groups, len(files))
			}
			sameParquetSchema(t, filepath.Join(arrowDir, "part-00000.parquet"), files[0])
		})
	}
	t.Run("nested columns", func(t *testing.T) {
		valsCols, err := readback.ColumnsOf(ctx, conn, "vals")
		if err != nil {
			t.Fatal(err)
		}
		wantVals, err := readback.FromPostgres(ctx, conn, "vals", "id", valsCols)
		if err != nil {
			t.Fatal(err)
		}
		opts := func(dir string, logs *syncBuffer) export.Options {
			return export.Options{ConnConfig: config(t, dsn), Table: "vals", OutputDir: dir, Parallel: 1, RowGroupSize: 500,
				Logger: slog.New(slog.NewTextHandler(logs, nil))}
		}
		arrowVals := t.TempDir()
		t.Setenv("PGPARQUET_PAGE_WRITER", "off")
		if _, err := export.Run(ctx, opts(arrowVals, &syncBuffer{})); err != nil {
			t.Fatal(err)
		}
		checkStatistics(t, arrowVals)
		t.Setenv("PGPARQUET_PAGE_WRITER", "cpu")
		dir := t.TempDir()
		logs := &syncBuffer{}
		res, err := export.Run(ctx, opts(dir, logs))
		if err != nil {
			t.Fatal(err)
		}
		pageWriterExported(ctx, t, res, logs, wantVals, dir)
		files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
		arrowFiles, _ := filepath.Glob(filepath.Join(arrowVals, "*.parquet"))
		if len(files) != len(arrowFiles) {
			t.Fatalf("%d files, the arrow-go writer's %d", len(files), len(arrowFiles))
		}
		for i := range files {
			sameParquetSchema(t, arrowFiles[i], files[i])
			sameNestedChunks(t, arrowFiles[i], files[i])
		}
	})
}

// sameNestedChunks requires the nested columns' chunks (leaves below their field's name: lists,
// structs) of the file at b to hold, row group by row group, the same number of values (levels)
// as those of the arrow-go writer's file at a, whose row groups must hold the same rows, and
// the same statistics where a has them (the export writes none below a list with arrow-go's
// writer, which would get them wrong).
func sameNestedChunks(t *testing.T, a, b string) {
	t.Helper()
	ra, _ := openParquet(t, a)
	rb, _ := openParquet(t, b)
	ma, mb := ra.MetaData(), rb.MetaData()
	if ma.NumRowGroups() != mb.NumRowGroups() {
		t.Fatalf("%s: %d row groups, the arrow-go writer's %d", b, mb.NumRowGroups(), ma.NumRowGroups())
	}
	checked := 0
	for rg := 0; rg < ma.NumRowGroups(); rg++ {
		if na, nb := ma.RowGroup(rg).NumRows(), mb.RowGroup(rg).NumRows(); na != nb {
			t.Fatalf("%s row group %d: %d rows, the arrow-go writer's %d", b, rg, nb, na)
		}
		for c := 0; c < ma.Schema.NumColumns(); c++ {
			if len(ma.Schema.Column(c).ColumnPath()) == 1 {
				continue
			}
			path := ma.Schema.Column(c).Path()
			ca, err := ma.RowGroup(rg).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := mb.RowGroup(rg).ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if set, _ := ca.StatsSet(); !set {
				if cb.NumValues() != ca.NumValues() {
					t.Errorf("%s row group %d column %s: %d values, the arrow-go writer's %d", b, rg, path, cb.NumValues(), ca.NumValues())
				}
				checked++
				continue
			}
			sa, sb := chunkStats(t, ma, a, rg, c, path), chunkStats(t, mb, b, rg, c, path)
			ea, err := sa.Encode()
			if err != nil {
				t.Fatal(err)
			}
			eb, err := sb.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if cb.NumValues() != ca.NumValues() || eb.NullCount != ea.NullCount || eb.HasMin != ea.HasMin ||
				!bytes.Equal(eb.Min, ea.Min) || !bytes.Equal(eb.Max, ea.Max) {
				t.Errorf("%s row group %d column %s: %d values, NULLs %d, min %x max %x; the arrow-go writer's %d, %d, %x %x",
					b, rg, path, cb.NumValues(), eb.NullCount, eb.Min, eb.Max, ca.NumValues(), ea.NullCount, ea.Min, ea.Max)
			}
			checked++
		}
	}
	if ma.NumRowGroups() > 0 && checked < 3*ma.NumRowGroups() {
		t.Errorf("%s: %d nested column chunks checked in %d row groups", b, checked, ma.NumRowGroups())
	}
}

// checkPlainStats compares, in every row group of the file at path, the statistics of each
// INT32, INT64, FLOAT, DOUBLE and decimal column, and of each string and binary column (the lane's
// dictionaries, whose statistics pqfile computes), with its values' true min, max (NaN left
// out) and NULL count, and returns the number of row groups.
func checkPlainStats(t *testing.T, path string) int {
	t.Helper()
	rdr, fr := openParquet(t, path)
	md := rdr.MetaData()
	all := make([]int, md.Schema.NumColumns()) // a flat table: a leaf per column
	for i := range all {
		all[i] = i
	}
	checked := 0
	for rg := 0; rg < md.NumRowGroups(); rg++ {
		tbl, err := fr.ReadRowGroups(context.Background(), all, []int{rg})
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < int(tbl.NumCols()); c++ {
			col := tbl.Column(c)
			if id := col.DataType().ID(); id == arrow.STRING || id == arrow.BINARY {
				checkByteArrayStats(t, md, path, rg, c, col)
				checked++
				continue
			}
			if col.DataType().ID() == arrow.DECIMAL128 {
				checkDecimalStats(t, md, path, rg, c, col)
				checked++
				continue
			}
			if !isPlainKind(col.DataType()) {
				continue
			}
			st := chunkStats(t, md, path, rg, c, col.Name())
			checked++
			lo, hi, nulls, has := trueStats(col)
			if st.NullCount() != nulls || st.HasMinMax() != has {
				t.Errorf("%s row group %d column %s: %d NULLs, min/max %v; want %d, %v", path, rg, col.Name(), st.NullCount(), st.HasMinMax(), nulls, has)
				continue
			}
			if !has {
				continue
			}
			gotLo, gotHi := statValues(st)
			if !sameFloat(gotLo, lo) || !sameFloat(gotHi, hi) {
				t.Errorf("%s row group %d column %s: min %v max %v, want %v %v", path, rg, col.Name(), gotLo, gotHi, lo, hi)
			}
		}
		tbl.Release()
	}
	if md.NumRowGroups() > 0 && checked < 15*md.NumRowGroups() {
		t.Errorf("%s: statistics of %d column chunks checked in %d row groups", path, checked, md.NumRowGroups())
	}
	return md.NumRowGroups()
}

// checkByteArrayStats compares a string or binary column chunk's statistics with its
// values' true byte-wise min and max (the empty string included) and NULL count.
func checkByteArrayStats(t *testing.T, md *metadata.FileMetaData, path string, rg, c int, col *arrow.Column) {
	t.Helper()
	st := chunkStats(t, md, path, rg, c, col.Name())
	var lo, hi []byte
	nulls, has := int64(0), false
	for _, chunk := range col.Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			if chunk.IsNull(i) {
				nulls++
				continue
			}
			var v []byte
			switch a := chunk.(type) {
			case *array.String:
				v = []byte(a.Value(i))
			case *array.Binary:
				v = a.Value(i)
			}
			if !has || bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if !has || bytes.Compare(v, hi) > 0 {
				hi = v
			}
			has = true
		}
	}
	bs, ok := st.(*metadata.ByteArrayStatistics)
	if !ok {
		t.Fatalf("%s row group %d column %s: statistics of type %T", path, rg, col.Name(), st)
	}
	if bs.NullCount() != nulls || bs.HasMinMax() != has || (has && (!bytes.Equal(bs.Min(), lo) || !bytes.Equal(bs.Max(), hi))) {
		t.Errorf("%s row group %d column %s: NULLs %d min %q max %q (%v); want %d %q %q (%v)", path, rg, col.Name(),
			bs.NullCount(), bs.Min(), bs.Max(), bs.HasMinMax(), nulls, lo, hi, has)
	}
}

// checkDecimalStats compares a decimal column chunk's statistics (FIXED_LEN_BYTE_ARRAY,
// big-endian two's complement) with its values' true min, max and NULL count.
func checkDecimalStats(t *testing.T, md *metadata.FileMetaData, path string, rg, c int, col *arrow.Column) {
	t.Helper()
	st := chunkStats(t, md, path, rg, c, col.Name())
	var lo, hi *big.Int
	nulls := int64(0)
	for _, chunk := range col.Data().Chunks() {
		a := chunk.(*array.Decimal128)
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				nulls++
				continue
			}
			v := a.Value(i).BigInt()
			if lo == nil || v.Cmp(lo) < 0 {
				lo = v
			}
			if hi == nil || v.Cmp(hi) > 0 {
				hi = v
			}
		}
	}
	fs := st.(*metadata.FixedLenByteArrayStatistics)
	signed := func(b []byte) *big.Int {
		v := new(big.Int).SetBytes(b)
		if len(b) > 0 && b[0]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
		return v
	}
	if fs.NullCount() != nulls || fs.HasMinMax() != (lo != nil) ||
		(lo != nil && (signed(fs.Min()).Cmp(lo) != 0 || signed(fs.Max()).Cmp(hi) != 0)) {
		t.Errorf("%s row group %d column %s: NULLs %d min %x max %x; want %d %v %v", path, rg, col.Name(), fs.NullCount(), fs.Min(), fs.Max(), nulls, lo, hi)
	}
}

// chunkStats is the statistics of column c of row group rg; a chunk without them fails the test.
func chunkStats(t *testing.T, md *metadata.FileMetaData, path string, rg, c int, name string) metadata.TypedStatistics {
	t.Helper()
	cc, err := md.RowGroup(rg).ColumnChunk(c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cc.Statistics()
	if err != nil || st == nil {
		t.Fatalf("%s row group %d column %s: no statistics (%v)", path, rg, name, err)
	}
	return st
}

func isPlainKind(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.TIME64, arrow.TIMESTAMP:
		return true
	}
	return false
}

// trueStats computes a chunked column's min and max (as float64: every value in the test
// table is exact in a float64, or compared after the same conversion) and NULL count.
func trueStats(col *arrow.Column) (lo, hi float64, nulls int64, has bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, chunk := range col.Data().Chunks() {
		for i := 0; i < chunk.Len(); i++ {
			if chunk.IsNull(i) {
				nulls++
				continue
			}
			var v float64
			switch a := chunk.(type) {
			case *array.Int16:
				v = float64(a.Value(i))
			case *array.Int32:
				v = float64(a.Value(i))
			case *array.Date32:
				v = float64(a.Value(i))
			case *array.Int64:
				v = float64(a.Value(i))
			case *array.Timestamp:
				v = float64(a.Value(i))
			case *array.Time64:
				v = float64(a.Value(i))
			case *array.Float32:
				v = float64(a.Value(i))
			case *array.Float64:
				v = a.Value(i)
			}
			if math.IsNaN(v) {
				continue
			}
			lo, hi, has = min(lo, v), max(hi, v), true
		}
	}
	return lo, hi, nulls, has
}

func statValues(st metadata.TypedStatistics) (float64, float64) {
	switch s := st.(type) {
	case *metadata.Int32Statistics:
		return float64(s.Min()), float64(s.Max())
	case *metadata.Int64Statistics:
		return float64(s.Min()), float64(s.Max())
	case *metadata.Float32Statistics:
		return float64(s.Min()), float64(s.Max())
	case *metadata.Float64Statistics:
		return s.Min(), s.Max()
	}
	panic(fmt.Sprintf("statistics of type %T", st))
}

func sameFloat(a, b float64) bool { return a == b } // -0.0 == +0.0: readers treat them alike

// sameParquetSchema requires the files at a and b to have the same Parquet schema (names,
// physical and logical types, repetition).
func sameParquetSchema(t *testing.T, a, b string) {
	t.Helper()
	ra, _ := openParquet(t, a)
	rb, _ := openParquet(t, b)
	sa, sb := ra.MetaData().Schema, rb.MetaData().Schema
	if sa.NumColumns() != sb.NumColumns() {
		t.Fatalf("%d columns, the arrow-go writer's file %d", sb.NumColumns(), sa.NumColumns())
	}
	for i := 0; i < sa.NumColumns(); i++ {
		ca, cb := sa.Column(i), sb.Column(i)
		if ca.Name() != cb.Name() || ca.PhysicalType() != cb.PhysicalType() || !ca.LogicalType().Equals(cb.LogicalType()) ||
			ca.MaxDefinitionLevel() != cb.MaxDefinitionLevel() || ca.TypeLength() != cb.TypeLength() {
			t.Errorf("column %d: %s %s %s def %d; the arrow-go writer's %s %s %s def %d", i, cb.Name(), cb.PhysicalType(), cb.LogicalType(),
				cb.MaxDefinitionLevel(), ca.Name(), ca.PhysicalType(), ca.LogicalType(), ca.MaxDefinitionLevel())
		}
	}
	for _, key := range []string{"pgparquet.columns", "pgparquet.source_table", "pgparquet.decoder", "pgparquet.compat"} {
		va, vb := ra.MetaData().KeyValueMetadata().FindValue(key), rb.MetaData().KeyValueMetadata().FindValue(key)
		if va == nil || vb == nil || *va != *vb {
			t.Errorf("metadata %s: %v, the arrow-go writer's %v", key, vb, va)
		}
	}
}

// syncBuffer is a bytes.Buffer for a logger that lanes write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pageWriterExported fails t unless the export of res (3000 rows, its logs in logs) went
// through the page writer's CPU twin, every independent reader reads dir's files as want
// (PostgreSQL's rows, ordered by id) and every statistic in them is the true one.
func pageWriterExported(ctx context.Context, t *testing.T, res *outcome.Result, logs *syncBuffer, want *readback.Table, dir string) {
	t.Helper()
	if res.Rows != int64(len(want.Rows)) {
		t.Fatalf("rows = %d, want %d", res.Rows, len(want.Rows))
	}
	if !strings.Contains(logs.String(), "encoded by the GPU writer's CPU twin") {
		t.Fatalf("the export did not use the page writer:\n%s", logs.String())
	}
	checkReadback(t, want, dir, "", 20)
}

// TestPageWriterRollOver exports, through the GPU writer's file path with its CPU twin, a
// table of 200k rows (text that barely compresses, a low-cardinality string, numbers) in small
// row groups with files of at most 1 MiB, pages under way in compression while the lane goes
// on, row groups written at their end or, sealed ($PGPARQUET_SEALED_ROW_GROUPS=1), while the
// next one fills; files roll over counting them. Every value
// reads back equal to PostgreSQL's with pyarrow and DuckDB, the files hold several row groups
// each, and none passes 1 MiB by more than a batch. Diverse JSON and strings have no dictionary
// page (written PLAIN by pqfile.ByteColumn), repetitive ones keep theirs.
func TestPageWriterRollOver(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE roll AS SELECT g AS id, md5(g::text) AS h, CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5((g * 7)::text), g % 3) END AS note,
 g * 1.5 AS x, (array['a','b','c'])[1 + g % 3] AS kind, g % 1000 AS small,
 CASE WHEN g % 7 = 0 THEN NULL ELSE jsonb_build_object('id', g, 'tag', g % 11) END AS doc, jsonb_build_object('k', g % 3) AS status
 FROM generate_series(1, 200000) g; ANALYZE roll`)
	cols, err := readback.ColumnsOf(ctx, conn, "roll")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "roll", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPARQUET_PAGE_WRITER", "cpu")
	for _, sealed := range []string{"0", "1"} {
		t.Run("sealed row groups "+sealed, func(t *testing.T) {
			t.Setenv("PGPARQUET_SEALED_ROW_GROUPS", sealed)
			rollOver(ctx, t, dsn, want)
		})
	}
}

// rollOver is TestPageWriterRollOver's export and checks.
func rollOver(ctx context.Context, t *testing.T, dsn string, want *readback.Table) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "roll", OutputDir: dir, Parallel: 2, Compression: "zstd",
		RowGroupSize: 4000, BufferSize: 128 << 10, MaxFileSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pageWriterExported(ctx, t, res, logs, want, dir)
	if len(res.Files) < 6 {
		t.Errorf("%d files of at most 1 MiB", len(res.Files))
	}
	for _, f := range res.Files {
		if f.Bytes > 1<<20+256<<10 {
			t.Errorf("%s: %d bytes, more than 1 MiB and a batch", f.Name, f.Bytes)
		}
		r, _ := openParquet(t, filepath.Join(dir, f.Name))
		if n := r.NumRowGroups(); n < 2 && f.Rows > 4000 {
			t.Errorf("%s: %d row groups for %d rows", f.Name, n, f.Rows)
		}
		// JSON whose values barely repeat is written PLAIN from the start; JSON of a few values
		// keeps its dictionary.
		rg := r.MetaData().RowGroup(0)
		for _, c := range []struct {
			name string
			dict bool
		}{{"doc", false}, {"status", true}, {"h", false}, {"kind", true}} {
			idx := r.MetaData().Schema.ColumnIndexByName(c.name)
			cc, err := rg.ColumnChunk(idx)
			if err != nil {
				t.Fatal(err)
			}
			if cc.HasDictionaryPage() != c.dict {
				t.Errorf("%s: column %s has a dictionary page: %t, want %t (encodings %v)", f.Name, c.name, cc.HasDictionaryPage(), c.dict, cc.Encodings())
			}
		}
	}
}
