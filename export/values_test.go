package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/outcome"
)

// valuesDDL has one column of every type the decoder maps natively, plus types exported
// through their text form, a domain and an enum.
const valuesDDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(10,2);
CREATE TABLE vals (
	id int8 PRIMARY KEY,
	b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
	t text, vc varchar(20), bp char(6), nm name,
	d date, ts timestamp, tstz timestamptz,
	n12 numeric(12,2), n38 numeric(38,10), n0 numeric(18,0), nfree numeric, n60 numeric(60,20),
	by bytea, u uuid, j json, jb jsonb,
	pi posint, m2 money2, e mood, ip inet, iv interval, arr int4[], pt point, tsv tsvector
)`

// valuesRows fills vals: row 1 all NULL, rows 2-3 edge values, then generated rows.
const valuesRows = `
INSERT INTO vals (id) VALUES (1);
INSERT INTO vals VALUES
 (2, false, -32768, -2147483648, -9223372036854775808, '-Infinity', 'NaN',
  '', '', '', '', '4713-01-01 BC', '4713-01-01 00:00:00 BC', '-infinity',
  -9999999999.99, -0.0000000001, -999999999999999999, 'NaN', -1e39,
  '\x', '00000000-0000-0000-0000-000000000000', '{}', '[]',
  1, -0.01, 'sad', '::1', '-178000000 years', '{}', '(0,0)', ''),
 (3, true, 32767, 2147483647, 9223372036854775807, 'Infinity', '-0',
  E'tab\there\nnewline \\ backslash é 😀', 'ünïcödé', 'ab', 'a_name', 'infinity', '294246-12-31 23:59:59.999999', 'infinity',
  9999999999.99, 9999999999999999999999999999.9999999999, 999999999999999999, '-Infinity', 12345678901234567890123456789012345678.12345678901234567890,
  '\x00ff10', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a": [1, 2.50, null], "b": "x"}', '{"z": {"y": [true, false]}, "a": 1.0}',
  2147483647, 99999999.99, 'happy', '10.1.2.3/8', '1 mon 2 days 00:00:00.000001', '{1,NULL,3,4}', '(1.5,-2)', 'a fat:2 cat')`

// valuesGenerated adds rows whose columns are NULL in turn, so every column has NULLs among
// values.
const valuesGenerated = `
INSERT INTO vals SELECT g,
 nullif(g % 2 = 0, g % 17 = 0), (g % 30000 - 15000)::int2, g * 7919 - 5000000, g::int8 * 104729 * 1000003, (g / 7.0)::float4, g * pi(),
 repeat(md5(g::text), g % 4), left(md5(g::text), g % 20), left(md5(g::text), 3), 'n' || g,
 date '2000-01-01' + (g * 37 % 20000 - 10000), timestamp '2000-01-01' + g * interval '1 hour 1.000001 second',
 timestamptz '1970-01-01 00:00:00+00' + g * interval '17 minutes 0.000003 seconds',
 (g * 1.01)::numeric(12,2), g / 3.0, g * 1000, round(g / 7.0, g % 12), g * 1e25 / 7,
 decode(md5(g::text), 'hex'), md5(g::text)::uuid, json_build_object('g', g, 's', md5(g::text)), jsonb_build_object('g', g, 'arr', array[g, g + 1]),
 1 + g % 100, g / 100.0, (array['sad', 'ok', 'happy']::mood[])[1 + g % 3], ('10.0.0.' || g % 256)::inet, g * interval '1 day 3 seconds',
 array[g, g * 2], point(g, -g), to_tsvector('simple', 'word' || g)
FROM generate_series(4, 3000) g;
UPDATE vals SET (b, i2, i4, i8, f4, f8, t, vc, bp, nm, d, ts, tstz, n12, n38, n0, nfree, n60, by, u, j, jb, pi, m2, e, ip, iv, arr, pt, tsv) =
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
WHERE id % 101 = 0`

// TestExportValues exports a table with every natively decoded type, NULLs in every column and
// edge values, reads the files back with pyarrow and with DuckDB, and compares every value with
// PostgreSQL's own.
func TestExportValues(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	version := serverVersion(t, conn)
	for _, sql := range forServer(t, version, []string{valuesDDL, valuesRows, valuesGenerated, "ANALYZE vals"}, valuesEdits...) {
		pgtest.Exec(t, conn, sql)
	}
	cols, err := readback.ColumnsOf(ctx, conn, "vals")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "vals", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, compression := range []string{"zstd", "zstd:19", "snappy", "none"} {
		t.Run(compression, func(t *testing.T) {
			dir := t.TempDir()
			res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "vals", OutputDir: dir,
				Parallel: 3, Chunks: 9, Compression: compression, RowGroupSize: 500, BufferSize: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 3000 {
				t.Fatalf("rows = %d", res.Rows)
			}
			checkStatistics(t, dir)
			for _, reader := range readback.Readers() {
				got, err := readback.FromParquet(ctx, reader, "id", dir)
				if err != nil {
					t.Fatal(err)
				}
				if diff := readback.Diff(want, got, 20); len(diff) > 0 {
					t.Errorf("%s read back differs from PostgreSQL:\n%s", reader, strings.Join(diff, "\n"))
				}
				if reader == readback.ReaderDuckDB {
					for col, typ := range map[string]string{"u": "UUID", "j": "JSON", "jb": "JSON", "n12": "DECIMAL(12,2)", "tstz": "TIMESTAMP WITH TIME ZONE", "pi": "INTEGER", "e": "VARCHAR", "n60": "VARCHAR"} {
						if got.Types[col] != typ {
							t.Errorf("DuckDB reads column %s as %s, want %s", col, got.Types[col], typ)
						}
					}
				}
			}
		})
	}
	t.Run("metadata names PostgreSQL types", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "vals", OutputDir: dir, Parallel: 1}); err != nil {
			t.Fatal(err)
		}
		// arrow-go's own reader must read every column too (a stored Arrow schema with
		// extension types made it fail on JSON columns).
		rdr, fr := openParquet(t, filepath.Join(dir, "part-00000.parquet"))
		tbl, err := fr.ReadTable(ctx)
		if err != nil {
			t.Fatalf("arrow-go reads the file back: %v", err)
		}
		if tbl.NumRows() != 3000 {
			t.Errorf("arrow-go read %d rows", tbl.NumRows())
		}
		tbl.Release()
		kv := rdr.MetaData().KeyValueMetadata()
		var colTypes []struct {
			Name   string `json:"name"`
			PGType string `json:"pg_type"`
		}
		raw := kv.FindValue("pgparquet.columns")
		if raw == nil {
			t.Fatal("no pgparquet.columns metadata")
		}
		if err := json.Unmarshal([]byte(*raw), &colTypes); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range colTypes {
			got[c.Name] = c.PGType
		}
		for col, typ := range map[string]string{"bp": "character(6)", "n12": "numeric(12,2)", "jb": "jsonb", "pi": "posint", "tstz": "timestamp with time zone", "arr": "integer[]"} {
			if got[col] != typ {
				t.Errorf("pgparquet.columns: %s is %q, want %q", col, got[col], typ)
			}
		}
		for _, key := range []string{"pgparquet.source_table", "pgparquet.snapshot", "pgparquet.lsn", "pgparquet.version"} {
			if v := kv.FindValue(key); v == nil || *v == "" {
				t.Errorf("metadata %s missing", key)
			}
		}
		m := readManifest(t, dir)
		if m.Rows != 3000 || len(m.Columns) != len(cols) || !slices.ContainsFunc(m.Columns, func(c outcome.Column) bool { return c.Name == "ip" && c.AsText }) {
			t.Errorf("manifest: rows %d, columns %+v", m.Rows, m.Columns)
		}
	})
}

// withoutColumn returns a copy of tbl without column name.
func withoutColumn(tbl *readback.Table, name string) *readback.Table {
	idx := slices.Index(tbl.Columns, name)
	if idx < 0 {
		panic(fmt.Sprintf("no column %s", name))
	}
	out := *tbl
	out.Columns = slices.Delete(slices.Clone(tbl.Columns), idx, idx+1)
	out.Rows = make([][]*string, len(tbl.Rows))
	for i, r := range tbl.Rows {
		out.Rows[i] = slices.Delete(slices.Clone(r), idx, idx+1)
	}
	return &out
}
