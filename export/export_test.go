package export_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/outcome"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

func config(t testing.TB, dsn string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readManifest(t *testing.T, dir string) outcome.Result {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m outcome.Result
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExportSmoke(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t AS SELECT g AS id, g::text AS s, (g * 1.5)::numeric(12,2) AS n FROM generate_series(1, 100000) g`)
	dir := t.TempDir()
	res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "t", OutputDir: dir, Parallel: 4, Chunks: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 100000 {
		t.Fatalf("rows = %d, want 100000", res.Rows)
	}
	m := readManifest(t, dir)
	if m.Rows != 100000 || len(m.Files) == 0 {
		t.Fatalf("manifest: %+v", m)
	}
	// The reading ends within the copy, and no worker can wait longer than it lasted.
	if tm := m.Timings; tm.Receive <= 0 || tm.Receive > tm.Copy || tm.ReceiveIdle < 0 || tm.ReceiveIdle > tm.Receive || tm.ReceiveWait < 0 {
		t.Fatalf("timings: %+v", tm)
	}
	t.Logf("%+v", res)
}

// partFiles lists the Parquet files of the export in dir; there must be at least one.
func partFiles(t testing.TB, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Parquet files in %s (%v)", dir, err)
	}
	return paths
}

// openParquet opens a Parquet file with arrow-go's reader, closed when the test ends.
func openParquet(t testing.TB, path string) (*file.Reader, *pqarrow.FileReader) {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdr.Close() })
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	return rdr, fr
}

// readInt64 reads column name of every Parquet file in dir with arrow-go's reader.
func readInt64(t testing.TB, dir, name string) []int64 {
	t.Helper()
	var out []int64
	for _, p := range partFiles(t, dir) {
		_, fr := openParquet(t, p)
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		idx := tbl.Schema().FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("%s: no column %q", p, name)
		}
		for _, chunk := range tbl.Column(idx[0]).Data().Chunks() {
			out = append(out, chunk.(*array.Int64).Int64Values()...)
		}
		tbl.Release()
	}
	return out
}

// dirEntries lists the names in dir, to check that a failed export left nothing behind.
func dirEntries(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// postgresValues reads table's values from PostgreSQL in the canonical form the readers'
// values are compared with, rows ordered by the column id.
func postgresValues(t *testing.T, conn *pgx.Conn, table string) *readback.Table {
	t.Helper()
	ctx := context.Background()
	want, err := readback.FromTable(ctx, conn, table, "id")
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// checkStatistics fails t unless every statistic the Parquet files in paths hold (chunks',
// pages', page indexes') is the true one for the values they cover (readback.CheckStatistics),
// and returns what was compared.
func checkStatistics(t testing.TB, paths ...string) readback.StatisticsChecked {
	t.Helper()
	checked, err := readback.CheckStatistics(context.Background(), paths...)
	if err != nil {
		t.Error(err)
	}
	return checked
}

// checkReadback reads the Parquet files in dir back with every independent reader and reports
// where they differ from want (rows paired by id), and checks every file's statistics against
// its values (checkStatistics). DuckDB reads decimals wider than 38 digits as DOUBLE, so the
// column named wideDecimal, if any, is compared by pyarrow only.
func checkReadback(t *testing.T, want *readback.Table, dir, wideDecimal string, max int) {
	t.Helper()
	checkStatistics(t, dir)
	checkReaders(t, want, dir, wideDecimal, max)
}

// checkReaders is checkReadback without the statistics.
func checkReaders(t *testing.T, want *readback.Table, dir, wideDecimal string, max int) {
	t.Helper()
	for _, reader := range readback.Readers() {
		got, err := readback.FromParquet(context.Background(), reader, "id", dir)
		if err != nil {
			t.Fatal(err)
		}
		w := want
		if reader == readback.ReaderDuckDB && wideDecimal != "" {
			w, got = withoutColumn(want, wideDecimal), withoutColumn(got, wideDecimal)
		}
		if diff := readback.Diff(w, got, max); len(diff) > 0 {
			t.Errorf("%s read back differs from PostgreSQL:\n%s", reader, strings.Join(diff, "\n"))
		}
	}
}
