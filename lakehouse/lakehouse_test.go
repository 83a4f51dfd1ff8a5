package lakehouse_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/outcome"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// exportTable exports table into dir (a fresh directory) with the Go decoder.
func exportTable(t *testing.T, dsn, table, dir string) *outcome.Result {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	res, err := export.Run(context.Background(), export.Options{ConnConfig: cfg, Table: table, OutputDir: dir, Parallel: 2})
	if err != nil {
		t.Fatalf("export %s: %v", table, err)
	}
	return res
}

// request is the commit of res, exported into the local directory dir.
func request(t *testing.T, ident, dir string, res *outcome.Result) lakehouse.Request {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	req := lakehouse.Request{Table: ident, Snapshot: res.Snapshot, LSN: res.LSN, SourceTable: res.Table, RequestID: "req-" + res.Snapshot, Version: res.Version}
	for _, f := range res.Files {
		req.Files = append(req.Files, "file://"+filepath.Join(abs, f.Name))
	}
	return req
}

// readIceberg reads the table back with pyiceberg (through the SQL catalog in dsn's
// database) and DuckDB's iceberg extension, at snapshot (0: the current one).
func readIceberg(t *testing.T, dsn, ident string, columns []string, snapshot int64, s3 *readback.S3Access) *readback.IcebergRead {
	t.Helper()
	r, err := readback.FromIceberg(context.Background(), readback.IcebergQuery{Database: dsn, Table: ident, Columns: columns, Snapshot: snapshot, S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func show(rows [][]*string) string {
	var b strings.Builder
	for i, r := range rows {
		if i == 5 {
			fmt.Fprintf(&b, "… (%d rows)", len(rows))
			break
		}
		b.WriteString("[")
		for j, v := range r {
			if j > 0 {
				b.WriteString(" ")
			}
			if v == nil {
				b.WriteString("NULL")
			} else {
				b.WriteString(*v)
			}
		}
		b.WriteString("] ")
	}
	return b.String()
}

func sameRows(a, b [][]*string) bool {
	return slices.EqualFunc(a, b, func(x, y []*string) bool {
		return slices.EqualFunc(x, y, func(p, q *string) bool { return (p == nil) == (q == nil) && (p == nil || *p == *q) })
	})
}

// checkRows compares both readers' rows with want.
func checkRows(t *testing.T, what string, r *readback.IcebergRead, want [][]*string) {
	t.Helper()
	if !sameRows(r.PyIceberg.Rows, want) {
		t.Errorf("%s: pyiceberg read %s, want %s", what, show(r.PyIceberg.Rows), show(want))
	}
	if !sameRows(r.DuckDB.Rows, want) {
		t.Errorf("%s: duckdb read %s, want %s", what, show(r.DuckDB.Rows), show(want))
	}
}

// TestCommit commits successive exports of one PostgreSQL table to one Iceberg table in the
// SQL catalog of the same database, and reads each state back with pyiceberg and DuckDB: the
// first export creates the table, the second replaces its rows in a second snapshot (time
// travel to the first gives the first rows), a column added in PostgreSQL is added to the
// table, a column whose type changed is refused with the table left as it was, and two
// commits racing both succeed, one after the other.
func TestCommit(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE orders (id bigint PRIMARY KEY, qty int, item text, price numeric(10,2), at timestamptz, day date, ref uuid)`)
	pgtest.Exec(t, conn, `INSERT INTO orders SELECT g, g % 7, 'item ' || g, g * 1.25, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour',
		'2026-01-01'::date + g, md5(g::text)::uuid FROM generate_series(1, 1000) g`)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cat, err := lakehouse.Open(ctx, lakehouse.Config{Conn: cfg, Warehouse: "file://" + root + "/warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	const ident = "sales.orders"
	cols := []string{"id", "qty", "item", "price", "day", "note"}
	selectAll := `SELECT id::text, qty::text, item, price::text, day::text FROM orders ORDER BY orders.id`

	commit := func(t *testing.T, name string) (*outcome.Iceberg, *outcome.Result, error) {
		t.Helper()
		dir := filepath.Join(root, name)
		res := exportTable(t, dsn, "orders", dir)
		ice, err := cat.Commit(ctx, request(t, ident, dir, res))
		return ice, res, err
	}

	first, res1, err := commit(t, "run1")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.Catalog != "postgres" || first.Table != ident || first.SnapshotID == 0 {
		t.Errorf("first commit: %+v", first)
	}
	rows1 := pgtest.TextRows(t, conn, selectAll)

	pgtest.Exec(t, conn, `DELETE FROM orders WHERE id <= 100`)
	pgtest.Exec(t, conn, `UPDATE orders SET item = 'changed' WHERE id % 10 = 0`)
	pgtest.Exec(t, conn, `INSERT INTO orders (id, qty, item) SELECT g, 1, NULL FROM generate_series(1001, 1100) g`)
	second, res2, err := commit(t, "run2")
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.SnapshotID == first.SnapshotID {
		t.Errorf("second commit: %+v", second)
	}
	rows2 := pgtest.TextRows(t, conn, selectAll)

	t.Run("two exports, two snapshots", func(t *testing.T) {
		r := readIceberg(t, dsn, ident, cols, 0, nil)
		checkRows(t, "current snapshot", r, rows2)
		if r.PyIceberg.Current != second.SnapshotID || len(r.PyIceberg.Snapshots) != 2 {
			t.Fatalf("snapshots %+v, current %d; want 2, current %d", r.PyIceberg.Snapshots, r.PyIceberg.Current, second.SnapshotID)
		}
		for i, want := range []struct {
			res *outcome.Result
			op  string
		}{{res1, "append"}, {res2, "overwrite"}} {
			s := r.PyIceberg.Snapshots[i]
			if s.Operation != want.op || s.Summary[lakehouse.SummarySnapshot] != want.res.Snapshot || s.Summary[lakehouse.SummaryLSN] != want.res.LSN ||
				s.Summary[lakehouse.SummarySourceTable] != "public.orders" || s.Summary[lakehouse.SummaryRequestID] != "req-"+want.res.Snapshot {
				t.Errorf("snapshot %d: %s %v; want %s with the export's snapshot %s and LSN %s", i, s.Operation, s.Summary, want.op, want.res.Snapshot, want.res.LSN)
			}
		}
		old := readIceberg(t, dsn, ident, cols, first.SnapshotID, nil)
		checkRows(t, "time travel to the first snapshot", old, rows1)

		again, err := cat.Commit(ctx, request(t, ident, filepath.Join(root, "run1"), res1))
		if err != nil || again.SnapshotID != first.SnapshotID {
			t.Errorf("first request committed again: %+v, %v; want its snapshot %d", again, err, first.SnapshotID)
		}
		if r := readIceberg(t, dsn, ident, []string{"id"}, 0, nil).PyIceberg; r.Current != second.SnapshotID || len(r.Snapshots) != 2 {
			t.Errorf("after a repeated request: current %d of %d snapshots, want %d of 2", r.Current, len(r.Snapshots), second.SnapshotID)
		}
	})

	t.Run("a column added in PostgreSQL evolves the schema", func(t *testing.T) {
		pgtest.Exec(t, conn, `ALTER TABLE orders ADD COLUMN note text`)
		pgtest.Exec(t, conn, `UPDATE orders SET note = 'n' || id WHERE id % 3 = 0`)
		third, _, err := commit(t, "run3")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(third.AddedColumns, []string{"note"}) || third.Created {
			t.Errorf("third commit: %+v, want note added", third)
		}
		r := readIceberg(t, dsn, ident, cols, 0, nil)
		checkRows(t, "after the new column", r, pgtest.TextRows(t, conn, `SELECT id::text, qty::text, item, price::text, day::text, note FROM orders ORDER BY orders.id`))
		if !slices.Contains(r.PyIceberg.Schema, "note") || len(r.PyIceberg.Snapshots) != 3 {
			t.Errorf("schema %v, %d snapshots; want note, 3", r.PyIceberg.Schema, len(r.PyIceberg.Snapshots))
		}
		old := readIceberg(t, dsn, ident, cols, second.SnapshotID, nil)
		checkRows(t, "time travel to before the column", old, rows2)
	})

	t.Run("an incompatible type change is refused", func(t *testing.T) {
		before := readIceberg(t, dsn, ident, []string{"id"}, 0, nil).PyIceberg.Current
		pgtest.Exec(t, conn, `ALTER TABLE orders ALTER COLUMN qty TYPE text`)
		_, _, err := commit(t, "run4")
		var ie *lakehouse.IncompatibleError
		if !errors.As(err, &ie) || ie.Column != "qty" || strings.Contains(err.Error(), "\n") {
			t.Fatalf("commit: %v, want one line refusing column qty", err)
		}
		t.Log(err)
		if now := readIceberg(t, dsn, ident, []string{"id"}, 0, nil).PyIceberg.Current; now != before {
			t.Errorf("current snapshot %d, want %d (unchanged)", now, before)
		}
		pgtest.Exec(t, conn, `ALTER TABLE orders ALTER COLUMN qty TYPE int USING qty::int`)
	})

	t.Run("a failed first commit leaves no table", func(t *testing.T) {
		req := request(t, "sales.broken", filepath.Join(root, "run1"), res1)
		req.Files = append(req.Files, "file://"+filepath.Join(root, "missing.parquet"))
		_, err := cat.Commit(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "missing.parquet") {
			t.Fatalf("commit: %v, want an error naming the missing file", err)
		}
		t.Log(err)
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pgparquet_iceberg.iceberg_tables WHERE table_name = 'broken'`).Scan(&n); err != nil || n != 0 {
			t.Errorf("catalog rows for the table: %d, %v; want none", n, err)
		}
	})

	t.Run("a catalog given by its URL", func(t *testing.T) {
		url := strings.Replace(dsn, "postgres@", "postgres:pw-4f1c@", 1)
		other, err := lakehouse.Open(ctx, lakehouse.Config{URI: url, Warehouse: "file://" + root + "/warehouse"})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if strings.Contains(other.String(), "pw-4f1c") || !strings.HasPrefix(other.String(), "postgres://postgres@") {
			t.Errorf("catalog shown as %q, want its URL without the password", other)
		}
		ice, err := other.Commit(ctx, request(t, "other.orders", filepath.Join(root, "run2"), res2))
		if err != nil {
			t.Fatal(err)
		}
		if ice.Catalog != other.String() || !ice.Created {
			t.Errorf("commit: %+v", ice)
		}
		checkRows(t, "through the URL's catalog", readIceberg(t, dsn, "other.orders", cols, 0, nil), rows2)
	})

	t.Run("racing commits both succeed", func(t *testing.T) {
		var reqs []lakehouse.Request
		for _, name := range []string{"run5a", "run5b"} {
			dir := filepath.Join(root, name)
			reqs = append(reqs, request(t, ident, dir, exportTable(t, dsn, "orders", dir)))
		}
		var wg sync.WaitGroup
		errs := make([]error, len(reqs))
		for i, req := range reqs {
			wg.Go(func() { _, errs[i] = cat.Commit(ctx, req) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		r := readIceberg(t, dsn, ident, cols, 0, nil)
		checkRows(t, "after racing commits", r, pgtest.TextRows(t, conn, `SELECT id::text, qty::text, item, price::text, day::text, note FROM orders ORDER BY orders.id`))
	})
}

// TestTypes commits a one-column export of each PostgreSQL type to a table of its own: the
// types Iceberg holds commit and read back; the others are refused with one line naming the
// column and what would work.
func TestTypes(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if k := os.Getenv("KEEP"); k != "" {
		root = k
	}
	cat, err := lakehouse.Open(ctx, lakehouse.Config{Conn: cfg, Warehouse: "file://" + root + "/warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	tests := []struct {
		typ, value string
		refused    string // "": commits
	}{
		{"smallint", "7", ""},
		{"real", "1.5", ""},
		{"double precision", "2.5", ""},
		{"boolean", "true", ""},
		{"bytea", `'\x0102'`, ""},
		{"timestamp", "'2026-01-01 12:00'", ""},
		{"timestamptz", "'2026-01-01 12:00+00'", ""},
		{"time", "'12:34:56'", ""},
		{"numeric", "1.5", ""},
		{"numeric(50,2)", "1.5", ""},
		// json and jsonb are Iceberg binary: iceberg-go reads Parquet's JSON annotation as
		// binary and checks the files against the table's schema (--as-text gives a string).
		{"jsonb", `'{"a": 1}'`, ""},
		{"json", `'[1]'`, ""},
		{"int[]", "'{1,2,NULL}'", ""},
		{"text[]", "'{a,b}'", ""},
		{"interval", "'1 day'", ""},
		{"timetz", "'12:00+02'", ""},
		{"inet", "'10.0.0.1'", ""},
		{"oid", "12", "Iceberg has no unsigned integers"},
	}
	for i, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			name := fmt.Sprintf("t%d", i)
			pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id int, v %s)`, name, tt.typ))
			pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO %s VALUES (1, %s), (2, NULL)`, name, tt.value))
			dir := filepath.Join(root, name)
			res := exportTable(t, dsn, name, dir)
			_, err := cat.Commit(ctx, request(t, "types."+name, dir, res))
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("commit: %v", err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("commit: %v, want one line saying %q", err, tt.refused)
			case tt.refused != "":
				t.Log(err)
				return
			}
			r := readIceberg(t, dsn, "types."+name, []string{"id", "v"}, 0, nil)
			if len(r.PyIceberg.Rows) != 2 || len(r.DuckDB.Rows) != 2 || r.PyIceberg.Rows[1][1] != nil || r.PyIceberg.Rows[0][1] == nil {
				t.Errorf("read back: pyiceberg %s, duckdb %s", show(r.PyIceberg.Rows), show(r.DuckDB.Rows))
			}
			t.Logf("pyiceberg %s; duckdb %s", show(r.PyIceberg.Rows), show(r.DuckDB.Rows))
		})
	}
}

// TestNamesAndEmpty commits an export with no rows whose column names need quoting (case,
// spaces, a dot), then one with rows: both commit, and the readers find the columns by name.
func TestNamesAndEmpty(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cat, err := lakehouse.Open(ctx, lakehouse.Config{Conn: cfg, Warehouse: "file://" + root + "/warehouse"})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	pgtest.Exec(t, conn, `CREATE TABLE "Odd" (id int, "Mixed Case" text, "x.y" int)`)
	cols := []string{"id", "Mixed Case", "x.y"}
	for i, rows := range []int{0, 3} {
		pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO "Odd" SELECT g, 'v' || g, g * 10 FROM generate_series(1, %d) g`, rows))
		dir := filepath.Join(root, fmt.Sprintf("run%d", i))
		if _, err := cat.Commit(ctx, request(t, "odd.t", dir, exportTable(t, dsn, `"Odd"`, dir))); err != nil {
			t.Fatalf("export of %d rows: %v", rows, err)
		}
		r := readIceberg(t, dsn, "odd.t", cols, 0, nil)
		checkRows(t, fmt.Sprintf("%d rows", rows), r, pgtest.TextRows(t, conn, `SELECT id::text, "Mixed Case", "x.y"::text FROM "Odd" ORDER BY "Odd".id`))
		if !slices.Equal(r.PyIceberg.Schema, cols) {
			t.Errorf("schema %v, want %v", r.PyIceberg.Schema, cols)
		}
	}
}
