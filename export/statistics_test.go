package export_test

import (
	"cmp"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// statsTableDDL is a table made to stress statistics, a column per way to get them wrong.
const statsTableDDL = `
CREATE TYPE spair AS (a int, b text);
CREATE TABLE st (
	id int8 PRIMARY KEY,
	t text,          -- '' to ~96 KB (several pages per row group), 3 values over 1 MiB late
	tn text,         -- nine NULLs in ten
	tnull text,      -- NULL only
	inull int4,      -- NULL only
	u uuid,          -- NULLs, the least and greatest uuid
	by bytea,        -- NULLs, empty, \x00, \xff, md5 bytes
	jb jsonb,        -- NULLs, {}, [], strings with é, long ones
	n numeric,       -- scales 0 to 14, NaN, exported as text
	nd numeric(30,6),
	f8 float8,       -- NaN, +-Infinity, -0, 0; a run of NaN and NULL only, a run of zeros only
	f4 float4,
	ts timestamp,    -- +-infinity, 4713 BC, 294246 AD
	tz timestamptz,
	ta text[],       -- NULL and empty arrays, NULL and empty elements; a run of no element
	ia int4[],       -- likewise
	ca spair[]       -- likewise, arrays of composites (a list of structs in Parquet)
)`

// statsRows is the number of rows statsTableRows inserts.
const statsRows = 3000

// statsTableRows fills st with 3000 rows; ids 1001-1600 hold f8 NaN or NULL only, 1601-2200 f8
// zeros only, 2201-2800 arrays that hold no element (NULL, empty, or of NULL only).
const statsTableRows = `
INSERT INTO st SELECT g,
	CASE WHEN g IN (2900, 2950, 2990) THEN repeat(md5(g::text), 40000)
		WHEN g % 20 = 0 THEN repeat(md5(g::text), 3000)
		WHEN g % 7 = 0 THEN ''
		ELSE (array['a', 'é', '日本', '😀', chr(1), chr(127), 'zz'])[1 + g % 7] || repeat('x', g % 300) END,
	CASE WHEN g % 10 = 3 THEN 'v' || g END,
	NULL, NULL,
	CASE g % 7 WHEN 0 THEN NULL WHEN 1 THEN '00000000-0000-0000-0000-000000000000' WHEN 2 THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'
		ELSE md5(g::text)::uuid END,
	CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '\x' WHEN 2 THEN '\x00' WHEN 3 THEN '\xff' ELSE decode(md5(g::text), 'hex') END,
	CASE g % 8 WHEN 0 THEN NULL WHEN 1 THEN '{}' WHEN 2 THEN '[]' WHEN 3 THEN '"é"'
		ELSE jsonb_build_object('g', g, 's', repeat('s', g % 500)) END,
	CASE WHEN g % 13 = 0 THEN 'NaN' WHEN g % 13 = 1 THEN NULL ELSE round((g - 1500) * 1.1 / 7, g % 15) END,
	CASE WHEN g % 9 = 0 THEN NULL ELSE (g - 1500) * 12345678.123456 END,
	CASE WHEN g BETWEEN 1001 AND 1600 THEN CASE WHEN g % 3 = 0 THEN NULL ELSE 'NaN' END::float8
		WHEN g BETWEEN 1601 AND 2200 THEN CASE WHEN g % 2 = 0 THEN '-0' ELSE '0' END::float8
		ELSE (CASE g % 11 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' WHEN 3 THEN '-0' WHEN 4 THEN '0'
			WHEN 5 THEN NULL ELSE ((g - 1500) / 7.0)::text END)::float8 END,
	(CASE g % 11 WHEN 0 THEN 'NaN' WHEN 1 THEN 'Infinity' WHEN 2 THEN '-Infinity' WHEN 3 THEN '-0' WHEN 4 THEN '0'
		WHEN 5 THEN NULL ELSE ((g - 1500) / 3.0)::text END)::float4,
	(CASE g % 9 WHEN 0 THEN '-infinity' WHEN 1 THEN 'infinity' WHEN 2 THEN '4713-01-01 00:00:00 BC' WHEN 3 THEN '294246-12-31 23:59:59.999999'
		WHEN 4 THEN NULL ELSE (timestamp '2000-01-01' + g * interval '1 hour 0.000001 second')::text END)::timestamp,
	(CASE g % 9 WHEN 0 THEN 'infinity' WHEN 1 THEN '-infinity' WHEN 2 THEN '4713-01-01 00:00:00+00 BC' WHEN 3 THEN '294246-12-31 23:59:59.999999+00'
		WHEN 4 THEN NULL ELSE (timestamptz '1970-01-01 00:00:00+00' - g * interval '1 day 0.000003 second')::text END)::timestamptz,
	CASE WHEN g BETWEEN 2201 AND 2800 THEN (array[NULL, '{}', '{NULL}'])[1 + g % 3]::text[]
		ELSE CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '{}' WHEN 2 THEN '{NULL}' ELSE array['', 'é' || g, repeat('z', g % 200), NULL] END END,
	CASE WHEN g BETWEEN 2201 AND 2800 THEN (array[NULL, '{}', '{NULL}'])[1 + g % 3]::int4[]
		ELSE CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN '{}' WHEN 2 THEN '{NULL}' ELSE array[g, -g, NULL] END END,
	CASE WHEN g BETWEEN 2201 AND 2800 THEN (array[NULL, '{}', '{NULL}'])[1 + g % 3]::spair[]
		ELSE CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN '{}' ELSE array[ROW(g, md5(g::text))::spair, NULL, ROW(NULL, '')::spair] END END
FROM generate_series(1, 3000) g`

// createStatsTable makes st (statsTableDDL, statsTableRows) in the database of conn.
func createStatsTable(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	pgtest.Exec(t, conn, statsTableDDL)
	pgtest.Exec(t, conn, statsTableRows)
	pgtest.Exec(t, conn, "ANALYZE st")
}

// TestExportStatisticsAreTrue exports a table made to stress statistics (statsTableDDL) in
// row groups of 250 rows, through the default path (pqfile, the GPU writer's CPU twin) and
// arrow-go's FileWriter ($PGPARQUET_PAGE_WRITER=off): text from empty
// to ~96 KB (several pages per row group, extremes past what statistics keep) and values over
// 1 MiB (which end statistics for their column), NULL-heavy and all-NULL columns, uuid,
// bytea and jsonb extremes, numeric of many scales, floats with NaN, infinities and signed
// zeros (row groups of NaN alone, of zeros alone), timestamps at both ends of their range and
// infinities, arrays of text, int and composites with NULL and empty arrays and elements (row
// groups where they hold none). Every statistic of every file, chunk and page, must be the true
// one (checkStatistics), and pyarrow and DuckDB read back PostgreSQL's values.
func TestExportStatisticsAreTrue(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	createStatsTable(t, conn)
	want := postgresValues(t, conn, "st")
	for _, tc := range []struct {
		name, pageWriter string
	}{
		{"default", ""},
		{"arrow-go's FileWriter", "off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PGPARQUET_PAGE_WRITER", tc.pageWriter)
			dir := t.TempDir()
			res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "st", OutputDir: dir,
				Parallel: 2, Chunks: 4, RowGroupSize: 250, BufferSize: 64 << 10})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != statsRows {
				t.Fatalf("exported %d rows, want %d", res.Rows, statsRows)
			}
			checked := checkStatistics(t, dir)
			t.Logf("statistics compared: %+v", checked)
			if checked.RowGroups < 12 || checked.Pages <= checked.Chunks || checked.ChunkMinMax < checked.Chunks/2 ||
				checked.PageMinMax == 0 || checked.PageNullCounts == 0 {
				t.Errorf("compared %+v: want 12 row groups or more, more pages than chunks, and most min/max", checked)
			}
			checkReaders(t, want, dir, "", 20)
		})
	}
}

// TestRowGroupsRepeat: over one connection an export's row groups do not depend on how the
// socket's reads fell (receive buffers end where a message does not fit, snapshot's receiver),
// so exporting st again gives files of row groups of the same rows, whichever writer. On the
// GPU host TestGPUWriterStatisticsAreTrue compares the GPU writer's with the CPU path's so.
func TestRowGroupsRepeat(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	createStatsTable(t, conn)
	for _, pageWriter := range []string{"", "off"} {
		t.Run("page writer "+cmp.Or(pageWriter, "default"), func(t *testing.T) {
			t.Setenv("PGPARQUET_PAGE_WRITER", pageWriter)
			var dirs []string
			for range 3 {
				dir := t.TempDir()
				if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "st", OutputDir: dir,
					Parallel: 1, Chunks: 1, RowGroupSize: 500, BufferSize: 64 << 10}); err != nil {
					t.Fatal(err)
				}
				dirs = append(dirs, dir)
			}
			sameRowGroups(t, dirs[0], dirs[1])
			sameRowGroups(t, dirs[0], dirs[2])
		})
	}
}
