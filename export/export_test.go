package export_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// connect opens a superuser connection to dsn for test setup, closed when the test ends.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func config(t testing.TB, dsn string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readManifest(t *testing.T, dir string) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExportSmoke(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := connect(t, dsn)
	mustExec(t, conn, `CREATE TABLE t AS SELECT g AS id, g::text AS s, (g * 1.5)::numeric(12,2) AS n FROM generate_series(1, 100000) g`)
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
	t.Logf("%+v", res)
}

// lineorderDDL and lineorderFill make the benchmark table of ../shared/gpuhost/make-lineorder.sh.
const lineorderDDL = `CREATE TABLE lineorder (lo_orderkey int, lo_linenumber int, lo_custkey int, lo_partkey int,
 lo_suppkey int, lo_orderdate date, lo_orderpriority char(15), lo_shippriority char(1), lo_quantity int,
 lo_extendedprice bigint, lo_ordtotalprice bigint, lo_discount int, lo_revenue bigint,
 lo_supplycost numeric(12,2), lo_tax int, lo_commitdate timestamp, lo_shipmode varchar(10))`

const lineorderFill = `INSERT INTO lineorder SELECT g/4, g%%7, (g*31)%%300000, (g*17)%%800000, (g*13)%%20000,
 date '1992-01-01' + (g%%2500), (array['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW'])[1+g%%5], '0',
 1+g%%50, (g*7)%%10000000, (g*11)%%50000000, g%%11, (g*3)%%9000000, ((g%%100000)/100.0)::numeric(12,2), g%%9,
 timestamp '1992-01-01' + ((g%%86400000) * interval '1 second'), (array['AIR','TRUCK','MAIL','RAIL','SHIP','FOB','REG AIR'])[1+g%%7]
 FROM generate_series(0, %d) g`

// readInt64 reads column name of every Parquet file in dir with arrow-go's reader.
func readInt64(t testing.TB, dir, name string) []int64 {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Parquet files in %s (%v)", dir, err)
	}
	var out []int64
	for _, p := range paths {
		rdr, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
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
		rdr.Close()
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
