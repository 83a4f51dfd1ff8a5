package export_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
)

// checkCompatRecorded checks that the manifest and the first file's key-value metadata record
// the reader profile.
func checkCompatRecorded(t *testing.T, dir, want string) {
	t.Helper()
	if m := readManifest(t, dir); m.Compat != want {
		t.Errorf("manifest compat %q, want %q", m.Compat, want)
	}
	rdr, _ := openParquet(t, filepath.Join(dir, "part-00000.parquet"))
	if v := rdr.MetaData().KeyValueMetadata().FindValue("pgparquet.compat"); v == nil || *v != want {
		t.Errorf("file metadata pgparquet.compat = %v, want %q", v, want)
	}
}

// TestWideNumeric exports numeric(p,s) with 38 < p <= 76: by default as exact text, which
// pyarrow and DuckDB both read without loss, and as decimal256 with WideNumeric "decimal256",
// which pyarrow reads exactly (DuckDB reads it as a DOUBLE).
func TestWideNumeric(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE wide (id int8 PRIMARY KEY, n60 numeric(60,10), n39 numeric(39,0), n76 numeric(76,38), n38 numeric(38,2));
		INSERT INTO wide VALUES
			(1, NULL, NULL, NULL, NULL),
			(2, repeat('9', 50)::numeric + 0.9999999999, repeat('9', 39)::numeric, repeat('9', 38)::numeric + 0.99999999999999999999999999999999999999, repeat('9', 36)::numeric + 0.99),
			(3, -(repeat('9', 50)::numeric + 0.9999999999), -repeat('9', 39)::numeric, -0.00000000000000000000000000000000000001, -0.01),
			(4, 0, 0, 0, 0),
			(5, 0.0000000001, 1, 1.5, 1.5);
		INSERT INTO wide SELECT g, g * 1e40 / 7, g * 1e35, g / 7.0, g / 3.0 FROM generate_series(10, 500) g`)
	cols, err := readback.ColumnsOf(ctx, conn, "wide")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "wide", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	wide := []string{"n60", "n39", "n76"}
	for _, tc := range []struct {
		name, option string
		pyarrow      map[string]string // column -> the type pyarrow reads
	}{
		{"default: exact text", "", map[string]string{"n60": "string", "n39": "string", "n76": "string", "n38": "decimal128(38, 2)"}},
		{"decimal256", "decimal256", map[string]string{"n60": "decimal256(60, 10)", "n39": "decimal256(39, 0)", "n76": "decimal256(76, 38)", "n38": "decimal128(38, 2)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "wide", OutputDir: dir, Parallel: 2, WideNumeric: tc.option})
			if err != nil {
				t.Fatal(err)
			}
			if res.Compat != "default" {
				t.Errorf("result compat %q", res.Compat)
			}
			checkCompatRecorded(t, dir, "default")
			checkStatistics(t, dir)
			for _, reader := range readback.Readers() {
				got, err := readback.FromParquet(ctx, reader, "id", dir)
				if err != nil {
					t.Fatal(err)
				}
				w := want
				switch {
				case reader == readback.ReaderPyArrow:
					for col, typ := range tc.pyarrow {
						if got.Types[col] != typ {
							t.Errorf("pyarrow reads %s as %s, want %s", col, got.Types[col], typ)
						}
					}
				case tc.option == "":
					for _, col := range wide {
						if got.Types[col] != "VARCHAR" {
							t.Errorf("DuckDB reads %s as %s, want VARCHAR", col, got.Types[col])
						}
					}
				default:
					// DuckDB reads decimal256 as DOUBLE: the loss the default avoids.
					for _, col := range wide {
						if got.Types[col] != "DOUBLE" {
							t.Errorf("DuckDB reads %s as %s, want DOUBLE", col, got.Types[col])
						}
						w, got = withoutColumn(w, col), withoutColumn(got, col)
					}
				}
				if diff := readback.Diff(w, got, 10); len(diff) > 0 {
					t.Errorf("%s read back differs from PostgreSQL:\n%s", reader, strings.Join(diff, "\n"))
				}
			}
		})
	}
}

// requireSpark returns the interpreter with pyspark, or skips the test saying how to get one;
// with $PGPARQUET_REQUIRE_SPARK set (make test-readers) it fails instead.
func requireSpark(t *testing.T) {
	t.Helper()
	if _, err := readback.SparkPython(context.Background()); err != nil {
		if os.Getenv("PGPARQUET_REQUIRE_SPARK") != "" {
			t.Fatalf("PGPARQUET_REQUIRE_SPARK is set: %v", err)
		}
		t.Skipf("Spark is not installed, run `make test-readers` to run this test: %v", err)
	}
}

// TestSparkReadsTypes exports the table of every type (TestExportTypes's) with --compat spark
// and reads it back with Spark's own Parquet reader: Spark must open the files and read every
// column to the values pyarrow reads, and pyarrow and DuckDB must read PostgreSQL's values
// (uuid as its text). The timestamps past 294246 AD go as text (--as-text), as only text holds
// them.
func TestSparkReadsTypes(t *testing.T) {
	requireSpark(t)
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	for _, sql := range []string{typesDDL, typesEdges, typesGenerated, "ANALYZE types"} {
		pgtest.Exec(t, conn, sql)
	}
	cols, err := readback.ColumnsOf(ctx, conn, "types")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cols {
		cols[i].UUIDText = true
		cols[i].AsText = slices.Contains(farColumns, cols[i].Name)
	}
	want, err := readback.FromPostgres(ctx, conn, "types", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "types", OutputDir: dir,
		Parallel: 4, Chunks: 8, RowGroupSize: 50, BufferSize: 64 << 10, Compat: "spark", AsText: farColumns})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != typesRows {
		t.Fatalf("exported %d rows, postgres has %d", res.Rows, typesRows)
	}
	checkCompatRecorded(t, dir, "spark")
	notes := map[string]string{}
	for _, c := range readManifest(t, dir).Columns {
		notes[c.Name] = c.Note
	}
	rdr, _ := openParquet(t, filepath.Join(dir, "part-00000.parquet"))
	var fileCols []struct{ Name, Note string }
	if err := json.Unmarshal([]byte(*rdr.MetaData().KeyValueMetadata().FindValue("pgparquet.columns")), &fileCols); err != nil {
		t.Fatal(err)
	}
	for _, c := range fileCols {
		if c.Note != notes[c.Name] {
			t.Errorf("column %s: note %q in the file, %q in the manifest", c.Name, c.Note, notes[c.Name])
		}
	}
	for col, note := range map[string]string{"tm": "time as int64 microseconds since midnight", "a_tm": "time as int64 microseconds since midnight",
		"u": "uuid as its text", "i4": ""} {
		if notes[col] != note {
			t.Errorf("column %s: note %q, want %q", col, notes[col], note)
		}
	}
	checkStatistics(t, dir)
	var pyarrow *readback.Table
	for _, reader := range readback.Readers() {
		got, err := readback.FromParquet(ctx, reader, "id", dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := readback.Diff(want, got, 30); len(diff) > 0 {
			t.Errorf("%s read back differs from PostgreSQL:\n%s", reader, strings.Join(diff, "\n"))
		}
		if reader == readback.ReaderPyArrow {
			pyarrow = got
		}
	}
	start := time.Now()
	spark, err := readback.FromParquet(ctx, readback.ReaderSpark, "id", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s read %d rows of %d columns in %v", spark.Source, len(spark.Rows), len(spark.Columns), time.Since(start).Round(time.Millisecond))
	if diff := readback.Diff(pyarrow, spark, 30); len(diff) > 0 {
		t.Errorf("Spark reads other values than pyarrow (postgres= is pyarrow's):\n%s", strings.Join(diff, "\n"))
	}
	for col, typ := range map[string]string{
		"u": "string", "a_u": "array<string>", "tm": "bigint", "a_tm": "array<bigint>",
		"ttz": "struct<time:bigint,utc_offset_seconds:int>", "n76": "string", "n0": "decimal(30,0)",
		"o": "bigint", "x8": "decimal(20,0)", "ts": "timestamp_ntz", "tstz": "timestamp", "jb": "string",
	} {
		if spark.Types[col] != typ {
			t.Errorf("Spark reads %s as %s, want %s", col, spark.Types[col], typ)
		}
	}
}
