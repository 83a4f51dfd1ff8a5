package export_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
)

// TestDictionaryEncodedStrings exports string columns of every shape through the exporter's own
// dictionary encoding (export/dictionary.go): few values with NULLs, values that keep arriving
// (a new one every 10000 rows), values that never repeat, bytea, padded char, few values
// among which an empty string turns up late, and lists: of ints, of few strings, of few
// strings with NULL lists, empty lists and NULL elements, of strings that never repeat, and of
// strings among which an empty string turns up late (the lane's dictionary holds a string
// list's elements). The values must read back exactly; repeating columns must be
// dictionary-encoded in every row group, the never-repeating ones and the ints' leaves not at
// all; min/max statistics must match each row group's values (an empty string is the
// minimum), and every statistic be the true one (checkStatistics). Where arrow-go's FileWriter
// writes the files ($PGPARQUET_PAGE_WRITER=off), the lists' leaves have no statistics (it would
// get them wrong: export's fileSeries.open), and it dictionary-encodes the values itself.
func TestDictionaryEncodedStrings(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE dict (id int8 PRIMARY KEY, status text, late text, uniq text, bin bytea, bp char(4), rare text, nums int[], words text[],
		tagsn text[], uwords text[], rwords text[], epochs text[])`)
	pgtest.Exec(t, conn, `INSERT INTO dict SELECT g,
		CASE WHEN g % 11 = 0 THEN NULL ELSE (array['new', 'paid', 'shipped', 'returned', 'lost'])[1 + g % 5] END,
		'v' || (g / 10000), md5(g::text), decode(lpad(to_hex(g % 3), 2, '0'), 'hex'), (g % 4)::text,
		CASE WHEN g % 9973 = 0 THEN '' ELSE 'x' || (g % 3) END,
		array[g % 7, g % 3], array['w' || g % 5, 'v' || g % 2],
		CASE g % 13 WHEN 0 THEN NULL WHEN 1 THEN '{}' ELSE array['t' || g % 4, NULL, 't' || g % 3] END,
		array[md5(g::text), md5((-g)::text)],
		CASE WHEN g % 9973 = 0 THEN array['', 'r'] ELSE array['r' || g % 3] END,
		CASE WHEN g % 17 = 0 THEN NULL ELSE array['e' || (g / 10000), NULL, 'f' || g % 2] END
	FROM generate_series(1, 40000) g`)
	pgtest.Exec(t, conn, "ANALYZE dict")
	cols, err := readback.ColumnsOf(ctx, conn, "dict")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "dict", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const rowGroupSize = 8000
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "dict", OutputDir: dir,
		Parallel: 2, Chunks: 4, RowGroupSize: rowGroupSize, BufferSize: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	checkReadback(t, want, dir, "", 20)

	files := partFiles(t, dir)
	rowGroups := 0
	arrowGo := os.Getenv("PGPARQUET_PAGE_WRITER") == "off"
	listStats := func(fr *pqarrow.FileReader, cc *metadata.ColumnChunkMetaData, rg, ci int) {
		if !arrowGo {
			checkStringStats(t, ctx, fr, cc, rg, ci)
		} else if set, _ := cc.StatsSet(); set {
			t.Errorf("row group %d column %d: statistics below a list, written by arrow-go's FileWriter", rg, ci)
		}
	}
	for _, name := range files {
		rdr, fr := openParquet(t, name)
		schema := rdr.MetaData().Schema
		for rg := range rdr.NumRowGroups() {
			rowGroups++
			md := rdr.MetaData().RowGroup(rg)
			if md.NumRows() > rowGroupSize {
				t.Errorf("%s row group %d: %d rows", filepath.Base(name), rg, md.NumRows())
			}
			for ci := range schema.NumColumns() {
				col := schema.Column(ci).Path()
				cc, err := md.ColumnChunk(ci)
				if err != nil {
					t.Fatal(err)
				}
				dict := dictionaryPagesOnly(cc)
				switch col {
				case "status", "bin", "bp":
					if !dict {
						t.Errorf("%s row group %d column %s: encodings %v, want dictionary-encoded data pages only", filepath.Base(name), rg, col, cc.EncodingStats())
					}
					checkStringStats(t, ctx, fr, cc, rg, ci)
				case "uniq":
					if cc.HasDictionaryPage() {
						t.Errorf("%s row group %d column uniq has a dictionary page", filepath.Base(name), rg)
					}
				case "late":
					if !cc.HasDictionaryPage() {
						t.Errorf("%s row group %d column late has no dictionary page", filepath.Base(name), rg)
					}
					checkStringStats(t, ctx, fr, cc, rg, ci)
				case "rare":
					checkStringStats(t, ctx, fr, cc, rg, ci)
				case "nums.list.element":
					// Fixed-width leaves of lists are written plain, as fixed-width columns are.
					if cc.HasDictionaryPage() {
						t.Errorf("%s row group %d column %s has a dictionary page", filepath.Base(name), rg, col)
					}
				case "words.list.element", "tagsn.list.element", "epochs.list.element":
					if !dictionaryPagesOnly(cc) {
						t.Errorf("%s row group %d column %s: encodings %v, want dictionary-encoded data pages only", filepath.Base(name), rg, col, cc.EncodingStats())
					}
					listStats(fr, cc, rg, ci)
				case "uwords.list.element":
					// Lists of strings are the lanes' only where pqfile writes the files
					// (export/parquet.go, initDicts); arrow-go's FileWriter
					// ($PGPARQUET_PAGE_WRITER=off) tries its own dictionary first.
					if !arrowGo && cc.HasDictionaryPage() {
						t.Errorf("%s row group %d column %s has a dictionary page", filepath.Base(name), rg, col)
					}
					listStats(fr, cc, rg, ci)
				case "rwords.list.element":
					listStats(fr, cc, rg, ci)
				}
			}
		}
	}
	// Each lane meets an empty "rare" value after its first rows and starts a new file there,
	// where it encodes the dictionaries (not for arrow-go's FileWriter, which encodes them).
	if !arrowGo && len(files) <= 2 {
		t.Errorf("%d files from 2 lanes: no lane rolled over to a new file", len(files))
	}
	if rowGroups < 5 {
		t.Errorf("%d row groups: the test needs several", rowGroups)
	}
	if _, err := os.Stat(filepath.Join(dir, "_manifest.json")); err != nil {
		t.Error(err)
	}
}

// dictionaryPagesOnly says whether every data page of the chunk is dictionary-encoded.
func dictionaryPagesOnly(cc *metadata.ColumnChunkMetaData) bool {
	if !cc.HasDictionaryPage() {
		return false
	}
	for _, s := range cc.EncodingStats() {
		if s.PageType != 2 && s.Encoding != parquet.Encodings.RLEDict && s.Encoding != parquet.Encodings.PlainDict { // 2: DICTIONARY_PAGE
			return false
		}
	}
	return true
}

// checkStringStats compares a string column chunk's min/max statistics with its values, and for
// a list's elements its NULL count with the levels that hold no value (NULL lists, empty lists,
// NULL elements), as pqarrow counts them.
func checkStringStats(t *testing.T, ctx context.Context, fr *pqarrow.FileReader, cc *metadata.ColumnChunkMetaData, rg, ci int) {
	t.Helper()
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		t.Errorf("row group %d column %d: no min/max statistics (%v)", rg, ci, err)
		return
	}
	chunked, err := fr.RowGroup(rg).Column(ci).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer chunked.Release()
	var lo, hi []byte
	seen := false
	nulls, list := int64(0), false
	for _, a := range chunked.Chunks() {
		if l, ok := a.(*array.List); ok { // a list's elements: its leaf column's values
			list = true
			offs := l.Offsets()
			for i := range l.Len() {
				if l.IsNull(i) || offs[i] == offs[i+1] {
					nulls++
				}
			}
			a = array.NewSlice(l.ListValues(), int64(offs[0]), int64(offs[len(offs)-1]))
			defer a.Release()
			nulls += int64(a.NullN())
		}
		for i := range a.Len() {
			if a.IsNull(i) {
				continue
			}
			var v []byte
			switch a := a.(type) {
			case *array.String:
				v = []byte(a.Value(i))
			case *array.Binary:
				v = a.Value(i)
			}
			if !seen || bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if !seen || bytes.Compare(v, hi) > 0 {
				hi = v
			}
			seen = true
		}
	}
	bs := st.(*metadata.ByteArrayStatistics)
	if !bytes.Equal(bs.Min(), lo) || !bytes.Equal(bs.Max(), hi) {
		t.Errorf("row group %d column %d: statistics min %q max %q, values min %q max %q", rg, ci, bs.Min(), bs.Max(), lo, hi)
	}
	if list && (!st.HasNullCount() || st.NullCount() != nulls) {
		t.Errorf("row group %d column %d: statistics NULL count %d (set %v), %d levels without a value", rg, ci, st.NullCount(), st.HasNullCount(), nulls)
	}
}
