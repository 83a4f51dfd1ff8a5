package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/internal/s3test"
	"github.com/pgparquet/pgparquet/lakehouse/resttest"
	"github.com/pgparquet/pgparquet/outcome"
)

// readIcebergTable reads the table's id column back through the SQL catalog in dsn's
// database with pyiceberg and DuckDB's iceberg extension.
func readIcebergTable(t *testing.T, dsn, ident string, snapshot int64, s3 *readback.S3Access) *readback.IcebergRead {
	t.Helper()
	r, err := readback.FromIceberg(context.Background(), readback.IcebergQuery{Database: dsn, Table: ident, Columns: []string{"id"}, Snapshot: snapshot, S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runExportCmd runs pgparquet export with args and returns its result (nil when it failed)
// and stderr.
func runExportCmd(t *testing.T, bin string, args ...string) (*outcome.Result, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"export", "--no-progress", "--parallel", "2"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, strings.TrimSpace(stderr.String()), err
	}
	var res outcome.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	return &res, stderr.String(), nil
}

// TestCLIIceberg commits exports to an Iceberg table in the exported database's SQL catalog
// with --iceberg-table, from a local directory and from S3: the summary names the snapshot,
// the table's metadata goes beside the exports (the default warehouse), each export is one
// snapshot that pyiceberg and DuckDB read back, time travel gives the first export's rows, and
// a commit refused for a changed column type fails with one line, deletes the export and
// leaves the table at its snapshot.
func TestCLIIceberg(t *testing.T) {
	bin := buildBinary(t)
	dsn := setupTable(t, 3000)
	conn := pgtest.Connect(t, dsn)
	srv := s3test.Start(t)
	srv.CreateBucket(t, "lake")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	s3 := &readback.S3Access{Endpoint: srv.Endpoint, Key: s3test.RootAccess, Secret: s3test.RootSecret, Region: s3test.Region}

	tests := []struct {
		name, ident string
		dir         func(run string) string
		s3          *readback.S3Access
	}{
		{"local", "sales.big", func() func(string) string {
			root := t.TempDir()
			return func(run string) string { return filepath.Join(root, run) }
		}(), nil},
		{"s3", "lake.big", func(run string) string { return "s3://lake/big/" + run }, s3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pgtest.Exec(t, conn, `DELETE FROM big WHERE id > 3000`)
			args := func(run string) []string {
				a := []string{"--dsn", dsn, "--table", "big", "--output-dir", tt.dir(run), "--iceberg-table", tt.ident}
				if tt.s3 != nil {
					a = append(a, "--s3-path-style")
				}
				return a
			}
			first, stderr, err := runExportCmd(t, bin, args("run1")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if ice := first.Iceberg; ice == nil || ice.Table != tt.ident || ice.Catalog != "postgres" || !ice.Created || ice.SnapshotID == 0 {
				t.Fatalf("iceberg summary %+v", first.Iceberg)
			}
			wantMeta := strings.TrimSuffix(tt.dir("x"), "/x") + "/" + strings.Replace(tt.ident, ".", ".db/", 1) + "/metadata/"
			if tt.s3 == nil {
				wantMeta = "file://" + wantMeta
			}
			if !strings.HasPrefix(first.Iceberg.MetadataLocation, wantMeta) {
				t.Errorf("metadata at %s, want under %s", first.Iceberg.MetadataLocation, wantMeta)
			}

			pgtest.Exec(t, conn, `INSERT INTO big (id) SELECT g FROM generate_series(3001, 3500) g`)
			second, stderr, err := runExportCmd(t, bin, args("run2")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			r := readIcebergTable(t, dsn, tt.ident, 0, tt.s3)
			if len(r.PyIceberg.Rows) != 3500 || len(r.DuckDB.Rows) != 3500 || r.PyIceberg.Current != second.Iceberg.SnapshotID || len(r.PyIceberg.Snapshots) != 2 {
				t.Errorf("read %d rows (duckdb %d), snapshot %d of %d; want 3500, %d of 2",
					len(r.PyIceberg.Rows), len(r.DuckDB.Rows), r.PyIceberg.Current, len(r.PyIceberg.Snapshots), second.Iceberg.SnapshotID)
			}
			old := readIcebergTable(t, dsn, tt.ident, first.Iceberg.SnapshotID, tt.s3)
			if len(old.PyIceberg.Rows) != 3000 || len(old.DuckDB.Rows) != 3000 {
				t.Errorf("time travel read %d rows (duckdb %d), want 3000", len(old.PyIceberg.Rows), len(old.DuckDB.Rows))
			}

			pgtest.Exec(t, conn, `ALTER TABLE big ALTER COLUMN n TYPE text`)
			defer pgtest.Exec(t, conn, `ALTER TABLE big ALTER COLUMN n TYPE numeric(12,2) USING n::numeric`)
			_, stderr, err = runExportCmd(t, bin, args("run3")...)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1\n%s", err, stderr)
			}
			// The log's lines, then the error's one line.
			line := stderr[strings.LastIndexByte(stderr, '\n')+1:]
			if !strings.HasPrefix(line, "pgparquet: iceberg table "+tt.ident+" in catalog postgres: ") ||
				!strings.Contains(line, `column "n" is decimal(12, 2) in table `+tt.ident+` but string in this export`) ||
				!strings.HasSuffix(line, "the export's files were deleted") {
				t.Errorf("error line: %q, want one refusing column n, the files deleted", line)
			}
			if tt.s3 != nil {
				if keys := srv.Keys(t, "lake", "big/run3"); len(keys) > 0 {
					t.Errorf("the failed export left %v", keys)
				}
			} else if _, err := os.Stat(tt.dir("run3")); !os.IsNotExist(err) {
				t.Errorf("the failed export's directory: %v, want it gone", err)
			}
			if now := readIcebergTable(t, dsn, tt.ident, 0, tt.s3).PyIceberg.Current; now != second.Iceberg.SnapshotID {
				t.Errorf("current snapshot %d after the failed commit, want %d", now, second.Iceberg.SnapshotID)
			}
		})
	}
}

// TestCLIIcebergREST commits two exports with --iceberg-catalog rest+http://… to a real REST
// catalog (Apache Iceberg's REST catalog server, on loopback), with the exports and the
// server's warehouse in local directories and on S3 (versitygw), and reads the table back
// through that catalog with pyiceberg and DuckDB: each export's rows and values, two snapshots
// whose summaries name the export's PostgreSQL snapshot, LSN and table, and time travel to the
// first. An unreachable catalog fails before the export, with one line without its secrets.
func TestCLIIcebergREST(t *testing.T) {
	bin := buildBinary(t)
	dsn := setupTable(t, 2000)
	conn := pgtest.Connect(t, dsn)
	s3srv := s3test.Start(t)
	s3srv.CreateBucket(t, "lake")
	s3srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	s3 := &readback.S3Access{Endpoint: s3srv.Endpoint, Key: s3test.RootAccess, Secret: s3test.RootSecret, Region: s3test.Region}
	cols := []string{"id", "s", "n"}
	selectAll := `SELECT id::text, s, n::text FROM big ORDER BY big.id`

	tests := []struct {
		name  string
		start func(t testing.TB) *resttest.Server
		dir   func(run string) string
		s3    *readback.S3Access
		// metadata is where the table's metadata must be, under the server's warehouse.
		metadata func(srv *resttest.Server) string
	}{
		{"local", resttest.Start, func() func(string) string {
			root := t.TempDir()
			return func(run string) string { return filepath.Join(root, run) }
		}(), nil, func(srv *resttest.Server) string {
			return "file:" + strings.TrimPrefix(srv.Warehouse, "file://") + "/lake/big/metadata/" // Java's file IO writes file:/path
		}},
		{"s3", func(t testing.TB) *resttest.Server {
			return resttest.StartS3(t, resttest.S3{Endpoint: s3.Endpoint, Key: s3.Key, Secret: s3.Secret, Region: s3.Region, Warehouse: "s3://lake/warehouse"})
		}, func(run string) string { return "s3://lake/exports/" + run }, s3, func(*resttest.Server) string {
			return "s3://lake/warehouse/lake/big/metadata/"
		}},
	}
	t.Run("unreachable catalog", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		_, stderr, err := runExportCmd(t, bin, "--dsn", dsn, "--table", "big", "--output-dir", dir, "--iceberg-table", "lake.big",
			"--iceberg-catalog", "rest+http://user:pw-7c1e@127.0.0.1:1/api?token=tok-7c1e")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want 1\n%s", err, stderr)
		}
		line := strings.TrimSpace(stderr)
		if strings.Contains(line, "\n") || strings.Contains(line, "7c1e") || !strings.HasPrefix(line, "pgparquet: --iceberg-catalog: iceberg catalog rest+http://user@127.0.0.1:1/api: ") {
			t.Errorf("stderr %q: want one line naming the catalog, without its secrets", line)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("output dir: %v, want none (the catalog is opened before the export)", err)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.start(t)
			pgtest.Exec(t, conn, `TRUNCATE big; INSERT INTO big SELECT g, md5(g::text), g / 100.0, now() FROM generate_series(1, 2000) g`)
			const ident = "lake.big"
			export := func(run string) *outcome.Result {
				t.Helper()
				args := []string{"--dsn", dsn, "--table", "big", "--output-dir", tt.dir(run), "--iceberg-table", ident, "--iceberg-catalog", "rest+" + srv.URI + "/"}
				if tt.s3 != nil {
					args = append(args, "--s3-path-style")
				}
				res, stderr, err := runExportCmd(t, bin, args...)
				if err != nil {
					t.Fatalf("%v\n%s\nserver log:\n%s", err, stderr, srv.Log())
				}
				if ice := res.Iceberg; ice == nil || ice.Catalog != "rest+"+srv.URI+"/" || ice.Table != ident || ice.SnapshotID == 0 {
					t.Fatalf("iceberg summary %+v", res.Iceberg)
				}
				return res
			}
			read := func(snapshot int64) *readback.IcebergRead {
				t.Helper()
				r, err := readback.FromIceberg(context.Background(), readback.IcebergQuery{REST: srv.URI, Table: ident, Columns: cols, Snapshot: snapshot, S3: tt.s3})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			same := func(what string, r *readback.IcebergRead, want [][]*string) {
				t.Helper()
				for reader, got := range map[string][][]*string{"pyiceberg": r.PyIceberg.Rows, "duckdb": r.DuckDB.Rows} {
					if i := firstRowDiff(got, want); i >= 0 {
						t.Errorf("%s: %s read %d rows, want %d; first difference at row %d: %s", what, reader, len(got), len(want), i, showRow(got, i))
					}
				}
			}

			first := export("run1")
			if !first.Iceberg.Created || !strings.HasPrefix(first.Iceberg.MetadataLocation, tt.metadata(srv)) {
				t.Errorf("first commit %+v: want the table created under %s", first.Iceberg, tt.metadata(srv))
			}
			rows1 := pgtest.TextRows(t, conn, selectAll)
			pgtest.Exec(t, conn, `DELETE FROM big WHERE id <= 100; UPDATE big SET s = 'changed' WHERE id % 10 = 0`)
			pgtest.Exec(t, conn, `INSERT INTO big (id, s) SELECT g, NULL FROM generate_series(2001, 2100) g`)
			second := export("run2")

			r := read(0)
			same("current snapshot", r, pgtest.TextRows(t, conn, selectAll))
			if r.PyIceberg.Current != second.Iceberg.SnapshotID || len(r.PyIceberg.Snapshots) != 2 {
				t.Fatalf("snapshots %+v, current %d; want 2, current %d", r.PyIceberg.Snapshots, r.PyIceberg.Current, second.Iceberg.SnapshotID)
			}
			for i, res := range []*outcome.Result{first, second} {
				s := r.PyIceberg.Snapshots[i]
				if s.ID != res.Iceberg.SnapshotID || s.Summary["pgparquet.snapshot"] != res.Snapshot || s.Summary["pgparquet.lsn"] != res.LSN ||
					s.Summary["pgparquet.source_table"] != "public.big" {
					t.Errorf("snapshot %d: %d %v; want %d naming snapshot %s, LSN %s, public.big", i, s.ID, s.Summary, res.Iceberg.SnapshotID, res.Snapshot, res.LSN)
				}
			}
			same("time travel to the first snapshot", read(first.Iceberg.SnapshotID), rows1)
		})
	}
}

// firstRowDiff is the index of the first row where a and b differ (len of the shorter when
// one is a prefix of the other), or -1 when they are equal.
func firstRowDiff(a, b [][]*string) int {
	for i := range min(len(a), len(b)) {
		if !slices.EqualFunc(a[i], b[i], func(p, q *string) bool { return (p == nil) == (q == nil) && (p == nil || *p == *q) }) {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestIncrementalIceberg runs an incremental chain with --iceberg-table against the SQL
// catalog in the exported database and reads the tables back with pyiceberg and DuckDB: the
// snapshot run is the table's first snapshot, a change run with rows is an append of its
// change rows (PostgreSQL's changes, with op, LSN and sequence) to the changelog table
// <table>_changes, whose summary names the run's slot and WAL range; a change run without rows
// commits nothing; a column added in PostgreSQL is added to the changelog table; and a run
// published without --iceberg-table is committed by the next run, before it.
func TestIncrementalIceberg(t *testing.T) {
	bin := buildBinary(t)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE inc (id int PRIMARY KEY, s text, n numeric(10,2))`)
	pgtest.Exec(t, conn, `INSERT INTO inc SELECT g, 's' || g, g * 1.5 FROM generate_series(1, 100) g`)
	t.Cleanup(func() { pgtest.Exec(t, conn, `SELECT pg_drop_replication_slot('pgparquet_public_inc')`) })
	chain := filepath.Join(t.TempDir(), "chain")
	const ident, changes = "cdc.inc", "cdc.inc_changes"
	run := func(iceberg bool) *outcome.Result {
		t.Helper()
		args := []string{"--incremental", "--dsn", dsn, "--table", "inc", "--output-dir", chain}
		if iceberg {
			args = append(args, "--iceberg-table", ident)
		}
		res, stderr, err := runExportCmd(t, bin, args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		return res
	}
	read := func(table string, cols []string) *readback.IcebergRead {
		t.Helper()
		r, err := readback.FromIceberg(context.Background(), readback.IcebergQuery{Database: dsn, Table: table, Columns: cols})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The change rows as the readers print them, in stream order (LSN, then sequence); the
	// LSN and sequence themselves are left out.
	changeCols := []string{"_pgparquet_lsn", "_pgparquet_seq", "_pgparquet_op", "id", "s", "n"}
	streamOrder := func(rows [][]*string) [][]*string {
		rows = slices.Clone(rows)
		num := func(p *string) int64 { var v int64; fmt.Sscan(*p, &v); return v } //nolint:errcheck // checked by the comparison
		slices.SortStableFunc(rows, func(a, b []*string) int {
			if c := num(a[0]) - num(b[0]); c != 0 {
				return int(min(max(c, -1), 1))
			}
			return int(num(a[1]) - num(b[1]))
		})
		for i := range rows {
			rows[i] = rows[i][2:]
		}
		return rows
	}
	checkChanges := func(what string, want [][]*string) *readback.IcebergRead {
		t.Helper()
		r := read(changes, append(slices.Clone(changeCols), "note"))
		for reader, got := range map[string][][]*string{"pyiceberg": r.PyIceberg.Rows, "duckdb": r.DuckDB.Rows} {
			got := streamOrder(got)
			if i := firstRowDiff(got, want); i >= 0 {
				t.Errorf("%s: %s read %d change rows, want %d; first difference at row %d: %s", what, reader, len(got), len(want), i, showRow(got, i))
			}
		}
		return r
	}
	checkRun := func(s struct {
		ID        int64
		Operation string
		Summary   map[string]string
	}, res *outcome.Result) {
		t.Helper()
		inc := res.Incremental
		if s.ID != res.Iceberg.SnapshotID || s.Summary["pgparquet.slot"] != inc.Slot || s.Summary["pgparquet.from_lsn"] != inc.FromLSN ||
			s.Summary["pgparquet.to_lsn"] != inc.ToLSN || s.Summary["pgparquet.run"] != fmt.Sprint(inc.Run) || s.Summary["pgparquet.source_table"] != "public.inc" {
			t.Errorf("snapshot %d %s %v: want %d naming slot %s, %s to %s, run %d", s.ID, s.Operation, s.Summary, res.Iceberg.SnapshotID, inc.Slot, inc.FromLSN, inc.ToLSN, inc.Run)
		}
	}

	// 0001-snapshot: the table, as a full export commits it.
	first := run(true)
	if ice := first.Iceberg; ice == nil || ice.Table != ident || !ice.Created {
		t.Fatalf("snapshot run's iceberg: %+v, want %s created", first.Iceberg, ident)
	}
	r := read(ident, []string{"id", "s", "n"})
	if i := firstRowDiff(r.PyIceberg.Rows, pgtest.TextRows(t, conn, `SELECT id::text, s, n::text FROM inc ORDER BY inc.id`)); i >= 0 || len(r.PyIceberg.Snapshots) != 1 {
		t.Errorf("table after the snapshot run: %d rows (first difference at %d), %d snapshots; want PostgreSQL's, 1", len(r.PyIceberg.Rows), i, len(r.PyIceberg.Snapshots))
	}
	if s := r.PyIceberg.Snapshots[0]; s.Summary["pgparquet.snapshot"] != first.Snapshot || s.Summary["pgparquet.to_lsn"] != first.Incremental.ToLSN || s.Summary["pgparquet.slot"] != "pgparquet_public_inc" {
		t.Errorf("snapshot run's summary %v, want its snapshot %s, slot and to_lsn %s", s.Summary, first.Snapshot, first.Incremental.ToLSN)
	}

	// 0002-changes: inserts, updates and deletes, appended to the changelog table.
	pgtest.Exec(t, conn, `INSERT INTO inc SELECT g, 'new' || g, g FROM generate_series(101, 103) g`)
	pgtest.Exec(t, conn, `UPDATE inc SET s = 'upd' WHERE id IN (1, 2)`)
	pgtest.Exec(t, conn, `DELETE FROM inc WHERE id IN (99, 100)`)
	second := run(true)
	if ice := second.Iceberg; ice == nil || ice.Table != changes || !ice.Created {
		t.Fatalf("change run's iceberg: %+v, want %s created", second.Iceberg, changes)
	}
	want := pgtest.TextRows(t, conn, `SELECT 'insert', id::text, s, n::text FROM inc WHERE id > 100 ORDER BY inc.id`)
	want = append(want, pgtest.TextRows(t, conn, `SELECT 'update', id::text, s, n::text FROM inc WHERE id IN (1, 2) ORDER BY inc.id`)...)
	want = append(want, pgtest.TextRows(t, conn, `SELECT 'delete', g::text, NULL, NULL FROM generate_series(99, 100) g`)...)
	r = checkChanges("after the first change run", want)
	if len(r.PyIceberg.Snapshots) != 1 || r.PyIceberg.Snapshots[0].Operation != "append" {
		t.Fatalf("changelog snapshots %+v, want one append", r.PyIceberg.Snapshots)
	}
	checkRun(r.PyIceberg.Snapshots[0], second)
	if !slices.Equal(r.PyIceberg.Schema, []string{"id", "s", "n", "_pgparquet_op", "_pgparquet_lsn", "_pgparquet_seq", "_pgparquet_xid", "_pgparquet_commit_time", "_pgparquet_unchanged"}) {
		t.Errorf("changelog schema %v", r.PyIceberg.Schema)
	}

	// 0003-changes: nothing changed, nothing committed.
	if third := run(true); third.Iceberg != nil || third.Rows != 0 {
		t.Errorf("a run without changes: %d rows, iceberg %+v; want none", third.Rows, third.Iceberg)
	}

	// 0004-changes: a column added in PostgreSQL between two changes (two series of files in
	// one run) is added to the changelog table.
	pgtest.Exec(t, conn, `INSERT INTO inc VALUES (150, 'before the column', 1)`)
	pgtest.Exec(t, conn, `ALTER TABLE inc ADD COLUMN note text`)
	pgtest.Exec(t, conn, `INSERT INTO inc VALUES (200, 'with note', 2, 'a note')`)
	fourth := run(true)
	if ice := fourth.Iceberg; ice == nil || !slices.Equal(ice.AddedColumns, []string{"note"}) || len(fourth.Incremental.Series) != 2 {
		t.Fatalf("change run with a new column: %+v, %d series; want note added, 2 series", fourth.Iceberg, len(fourth.Incremental.Series))
	}
	for i := range want {
		want[i] = append(want[i][:4], nil)
	}
	want = append(want, pgtest.TextRows(t, conn, `SELECT 'insert', id::text, s, n::text, note FROM inc WHERE id IN (150, 200) ORDER BY inc.id`)...)
	checkChanges("after the new column", want)

	// 0005-changes published without --iceberg-table (as if its commit had failed), then
	// 0006-changes: both committed, in order.
	pgtest.Exec(t, conn, `UPDATE inc SET note = 'five' WHERE id = 200`)
	fifth := run(false)
	pgtest.Exec(t, conn, `DELETE FROM inc WHERE id = 200`)
	sixth := run(true)
	want = append(want, pgtest.TextRows(t, conn, `SELECT 'update', '200', 'with note', '2.00', 'five'`)...)
	want = append(want, pgtest.TextRows(t, conn, `SELECT 'delete', '200', NULL, NULL, NULL`)...)
	r = checkChanges("after a run committed late", want)
	if len(r.PyIceberg.Snapshots) != 4 {
		t.Fatalf("changelog snapshots %+v, want 4", r.PyIceberg.Snapshots)
	}
	fifth.Iceberg = &outcome.Iceberg{SnapshotID: r.PyIceberg.Snapshots[2].ID}
	for i, res := range []*outcome.Result{second, fourth, fifth, sixth} {
		checkRun(r.PyIceberg.Snapshots[i], res)
	}

	// A column whose type changed: the change run refuses it (the rows ALTER TYPE converted are
	// in no change), and says to restart the chain; the restarted chain's snapshot run cannot
	// be committed over the table's decimal column: the command fails with one line, the run
	// stays published (its rows are nowhere else), the tables unchanged.
	pgtest.Exec(t, conn, `ALTER TABLE inc ALTER COLUMN n TYPE text`)
	pgtest.Exec(t, conn, `INSERT INTO inc VALUES (300, 'typed', 'three', NULL)`)
	_, stderr, err := runExportCmd(t, bin, "--incremental", "--dsn", dsn, "--table", "inc", "--output-dir", chain, "--iceberg-table", ident)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr, "column n changed type from numeric(10,2) to text") ||
		!strings.Contains(stderr, "run again with --restart") {
		t.Fatalf("change run after ALTER TYPE: %v\n%s", err, stderr)
	}
	_, stderr, err = runExportCmd(t, bin, "--incremental", "--restart", "--dsn", dsn, "--table", "inc", "--output-dir", chain, "--iceberg-table", ident)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want 1\n%s", err, stderr)
	}
	line := stderr[strings.LastIndexByte(strings.TrimSuffix(stderr, "\n"), '\n')+1:]
	if !strings.HasPrefix(line, "pgparquet: the run is published in "+chain) || !strings.Contains(line, `run 0007-snapshot: iceberg table cdc.inc in catalog postgres: column "n" is decimal(10, 2)`) {
		t.Errorf("error line: %q, want one refusing column n of run 0007-snapshot", line)
	}
	t.Log(line)
	if _, err := os.Stat(filepath.Join(chain, "0007-snapshot", "_manifest.json")); err != nil {
		t.Errorf("the run whose commit failed: %v, want it kept", err)
	}
	if r := read(changes, []string{"id"}); len(r.PyIceberg.Snapshots) != 4 {
		t.Errorf("changelog snapshots after the refused commit: %d, want 4", len(r.PyIceberg.Snapshots))
	}
}

// showRow prints row i of rows (or that there is none).
func showRow(rows [][]*string, i int) string {
	if i >= len(rows) {
		return "(no row)"
	}
	var b strings.Builder
	for j, v := range rows[i] {
		if j > 0 {
			b.WriteString(" ")
		}
		if v == nil {
			b.WriteString("NULL")
		} else {
			b.WriteString(*v)
		}
	}
	return b.String()
}
