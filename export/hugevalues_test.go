package export_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/metadata"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestHugeValuesDropStatistics exports values over 1 MiB (text, an element of a text[],
// jsonb) among small ones with one lane. They must read back exactly; a row group holding a
// huge value in a column has no statistics for that column (arrow-go would copy the value
// several times for them, only to drop them), row groups before the first huge value keep
// theirs, and other columns keep theirs everywhere (but the text[]'s leaf where arrow-go's
// FileWriter writes the files, $PGPARQUET_PAGE_WRITER=off: it never has any); every statistic
// is the true one (checkStatistics).
func TestHugeValuesDropStatistics(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE hv (id int8 PRIMARY KEY, small text, body text, tags text[], doc jsonb)`)
	pgtest.Exec(t, conn, `INSERT INTO hv SELECT g, 's' || (g % 7),
		CASE WHEN g IN (500, 1500) THEN repeat(md5(g::text), 70000) ELSE md5(g::text) END,
		CASE WHEN g = 1200 THEN array['a', repeat('t', 1500000)] ELSE array['a', g::text] END,
		CASE WHEN g = 700 THEN jsonb_build_object('k', repeat('j', 1300000)) ELSE jsonb_build_object('k', g) END
	FROM generate_series(1, 2000) g`)
	want := postgresValues(t, conn, "hv")
	dir := t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "hv", OutputDir: dir,
		Parallel: 1, Chunks: 1, RowGroupSize: 100, BufferSize: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	checkReadback(t, want, dir, "", 10)

	// First id from which each column holds a huge value (one lane: files and row groups
	// follow the table's order).
	hugeFrom := map[string]int64{"body": 500, "tags": 1200, "doc": 700}
	if os.Getenv("PGPARQUET_PAGE_WRITER") == "off" {
		hugeFrom["tags"] = 0 // below a list: no statistics from the first row
	}
	files := partFiles(t, dir)
	if len(files) < 2 {
		t.Errorf("%d files: the lane should start a new file at its first huge value", len(files))
	}
	withStats := map[string]int{}
	for _, name := range files {
		rdr, _ := openParquet(t, name)
		schema := rdr.MetaData().Schema
		for rg := range rdr.NumRowGroups() {
			md := rdr.MetaData().RowGroup(rg)
			idChunk, err := md.ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			idStats, err := idChunk.Statistics()
			if err != nil || idStats == nil || !idStats.HasMinMax() {
				t.Fatalf("%s row group %d: no id statistics (%v)", filepath.Base(name), rg, err)
			}
			lastID := idStats.(*metadata.Int64Statistics).Max()
			for ci := range schema.NumColumns() {
				col := schema.ColumnRoot(ci).Name()
				cc, err := md.ColumnChunk(ci)
				if err != nil {
					t.Fatal(err)
				}
				st, err := cc.Statistics()
				if err != nil {
					t.Fatal(err)
				}
				has := st != nil && st.HasMinMax()
				from, tracked := hugeFrom[col]
				switch {
				case tracked && lastID >= from && has:
					t.Errorf("%s row group %d (ids to %d): column %s has statistics after its huge value at id %d", filepath.Base(name), rg, lastID, col, from)
				case (!tracked || lastID < from) && !has:
					t.Errorf("%s row group %d (ids to %d): column %s lost its statistics", filepath.Base(name), rg, lastID, col)
				case has:
					withStats[col]++
				}
			}
		}
	}
	for col, from := range hugeFrom {
		if withStats[col] == 0 && from > 0 {
			t.Errorf("column %s: no row group with statistics; the test needs some before the huge value", col)
		}
	}
}
