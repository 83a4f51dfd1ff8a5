package incremental

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
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

// rolePassword is the password of the roles the tests create.
const rolePassword = "pw"

// createRole creates role, with attrs (say "LOGIN REPLICATION") and rolePassword, from a
// superuser's session of suDSN, and drops it when the test ends. Roles are the cluster's, not
// the test database's: one left behind fails the next test that creates it (go test -count=2).
// The cleanup opens a superuser session of its own, since the test's may be closed by then,
// and drops what the role owns and the grants it holds in the test's database first (the only
// database the tests grant it anything in), which DROP ROLE would otherwise refuse.
func createRole(t *testing.T, suDSN, role, attrs string) {
	t.Helper()
	su := pgtest.Connect(t, suDSN)
	id := pgx.Identifier{role}.Sanitize()
	pgtest.Exec(t, su, `CREATE ROLE `+id+` `+attrs+` PASSWORD '`+rolePassword+`'`)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, suDSN)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		for _, q := range []string{`DROP OWNED BY ` + id, `DROP ROLE ` + id} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("drop role %s: %s: %v", role, q, err)
				return
			}
		}
	})
}

// leastPrivilegeDSN returns the DSN of a role made for the test in suDSN's database (suDSN is
// a superuser's) with exactly what docs/incremental.md requires of the role an incremental
// export runs as, when a DBA creates the publication: LOGIN, REPLICATION, SELECT on each of
// tables, and, made by the superuser as that DBA would, the publication of each table's chain
// (named as the table's default slot, FOR TABLE the table). The role is not a superuser, owns
// nothing and holds no CREATE: the exporter must not need more, and sees only what it may.
// Tables of a test that the role may read without a chain are granted by the test itself.
// Setup and checks stay on the superuser's sessions. The role (etl_ and the database's name)
// is dropped when the test ends.
func leastPrivilegeDSN(t *testing.T, suDSN string, tables ...string) string {
	t.Helper()
	db := config(t, suDSN).Database
	role := "etl_" + db
	if len(role) > 63 {
		role = role[:63]
	}
	createRole(t, suDSN, role, "LOGIN REPLICATION")
	su := pgtest.Connect(t, suDSN)
	for _, table := range tables {
		var name string
		if err := su.QueryRow(context.Background(), `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::text::regclass`, table).Scan(&name); err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		pgtest.Exec(t, su, `GRANT SELECT ON `+name+` TO `+pgx.Identifier{role}.Sanitize())
		pgtest.Exec(t, su, `CREATE PUBLICATION `+pgx.Identifier{DefaultSlot(name)}.Sanitize()+` FOR TABLE `+name)
	}
	return shared.Cluster(t).DSNAs(db, role, rolePassword)
}

// dropSlotAtEnd drops the slot when the test ends: slots are the cluster's, not the test
// database's, and hold WAL back for every other test.
func dropSlotAtEnd(t *testing.T, dsn, slot string) {
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		var exists bool
		if err := conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&exists); err != nil {
			t.Error(err)
			return
		}
		// dropSlot waits for the last run's walsender, which may not have exited yet.
		if exists {
			if err := dropSlot(context.Background(), conn, slot); err != nil {
				t.Error(err)
			}
		}
	})
}

// slotConfirmed is the slot's confirmed_flush_lsn.
func slotConfirmed(t *testing.T, conn *pgx.Conn, slot string) string {
	t.Helper()
	var lsn string
	if err := conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	return lsn
}

// runOnce runs the next run of the chain in dir and checks its mode.
func runOnce(t *testing.T, opts Options, mode string) *outcome.Result {
	t.Helper()
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incremental == nil || res.Incremental.Mode != mode {
		t.Fatalf("run: incremental = %+v, want mode %s", res.Incremental, mode)
	}
	return res
}

// TestChain runs a snapshot and change runs through inserts, updates (one leaving a TOASTed
// value unchanged, one changing the key), deletes, an empty run, a truncate, an added column
// and a crash between publication and confirmation; materialize and the DuckDB SQL of
// docs/incremental.md must both give the table as PostgreSQL has it.
func TestChain(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, s text, n numeric(12,2), big text)`)
	pgtest.Exec(t, conn, `ALTER TABLE t ALTER big SET STORAGE EXTERNAL`)
	pgtest.Exec(t, conn, `INSERT INTO t SELECT g, 's' || g, g * 1.5, CASE WHEN g % 10 = 0 THEN repeat(g::text, 2000) END FROM generate_series(1, 1000) g`)
	dir := t.TempDir()
	runMem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer runMem.AssertSize(t, 0)
	etl := leastPrivilegeDSN(t, dsn, "t")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "t", OutputDir: dir, Parallel: 2}, mem: runMem}
	dropSlotAtEnd(t, dsn, "pgparquet_public_t")

	snap := runOnce(t, opts, modeSnapshot)
	if snap.Rows != 1000 || snap.Incremental.Slot != "pgparquet_public_t" || snap.Incremental.ToLSN == "" {
		t.Fatalf("snapshot run: rows %d, incremental %+v", snap.Rows, snap.Incremental)
	}

	pgtest.Exec(t, conn, `INSERT INTO t SELECT g, 's' || g, g, NULL FROM generate_series(1001, 1100) g`)
	pgtest.Exec(t, conn, `UPDATE t SET s = s || '!' WHERE id <= 50`) // big unchanged (TOASTed for 10, 20, ...)
	pgtest.Exec(t, conn, `DELETE FROM t WHERE id BETWEEN 51 AND 60`)
	pgtest.Exec(t, conn, `UPDATE t SET id = 7001 WHERE id = 71`) // a key change
	ch := runOnce(t, opts, modeChanges)
	ops := ch.Incremental.Ops
	if ops[opInsert] != 100 || ops[opUpdate] != 51 || ops[opDelete] != 10 || ops[opUpdateOld] != 1 {
		t.Fatalf("ops = %v", ops)
	}
	if ch.Incremental.FromLSN != snap.Incremental.ToLSN {
		t.Fatalf("from %s, want the snapshot's consistent point %s", ch.Incremental.FromLSN, snap.Incremental.ToLSN)
	}
	checkUnchanged(t, filepath.Join(dir, "0002-changes"))
	afterRun2 := fromPostgres(t, conn)

	empty := runOnce(t, opts, modeChanges)
	if empty.Rows != 0 || len(empty.Files) != 0 || empty.Incremental.FromLSN != ch.Incremental.ToLSN {
		t.Fatalf("empty run: %+v", empty)
	}
	// Even without changes the slot moves to the run's end: it holds no WAL back for an idle
	// table.
	if got := slotConfirmed(t, conn, "pgparquet_public_t"); got != empty.Incremental.ToLSN {
		t.Fatalf("slot confirmed at %s after the empty run, want its end %s", got, empty.Incremental.ToLSN)
	}

	pgtest.Exec(t, conn, `TRUNCATE t`)
	pgtest.Exec(t, conn, `INSERT INTO t SELECT g, 'again' || g, g, CASE WHEN g % 3 = 0 THEN repeat('y', 9000) END FROM generate_series(1, 30) g`)
	pgtest.Exec(t, conn, `ALTER TABLE t ADD COLUMN c int`)
	pgtest.Exec(t, conn, `INSERT INTO t SELECT g, 'new' || g, g, NULL, g * 2 FROM generate_series(31, 40) g`)
	pgtest.Exec(t, conn, `UPDATE t SET c = -id WHERE id <= 6`)
	schemaRun := runOnce(t, opts, modeChanges)
	if schemaRun.Incremental.Ops[opTruncate] != 1 || schemaRun.Incremental.SchemaVersion != 2 || len(schemaRun.Incremental.Series) != 2 {
		t.Fatalf("truncate and added column: %+v", schemaRun.Incremental)
	}

	// A crash after publication, before confirmation: the run is there, the slot is not moved.
	pgtest.Exec(t, conn, `UPDATE t SET s = 'crash' || id WHERE id BETWEEN 7 AND 12`)
	pgtest.Exec(t, conn, `DELETE FROM t WHERE id = 13`)
	crashOpts := opts
	crashOpts.skipConfirm = true
	crashed := runOnce(t, crashOpts, modeChanges)
	if got := slotConfirmed(t, conn, "pgparquet_public_t"); got != crashed.Incremental.FromLSN {
		t.Fatalf("slot confirmed at %s after a run that did not confirm, want %s", got, crashed.Incremental.FromLSN)
	}
	before := readChanges(t, filepath.Join(dir, "0005-changes"))
	// ... and one before publication: the files are gone, the slot is not moved; the rerun
	// writes the same changes.
	if err := os.Rename(filepath.Join(dir, "0005-changes"), filepath.Join(dir, partialPrefix+"0005-changes")); err != nil {
		t.Fatal(err)
	}
	rerun := runOnce(t, crashOpts, modeChanges)
	if rerun.Incremental.FromLSN != crashed.Incremental.FromLSN || rerun.Rows != crashed.Rows {
		t.Fatalf("rerun: %+v, crashed run: %+v", rerun.Incremental, crashed.Incremental)
	}
	if after := readChanges(t, filepath.Join(dir, "0005-changes")); len(readback.Diff(before, after, 5)) != 0 {
		t.Fatalf("the rerun wrote other changes: %v", readback.Diff(before, after, 5))
	}
	pgtest.Exec(t, conn, `INSERT INTO t VALUES (5000, 'last', 1, NULL, 1)`)
	last := runOnce(t, opts, modeChanges) // starts at run 5's end although the slot is behind it
	if last.Incremental.FromLSN != rerun.Incremental.ToLSN || last.Incremental.Ops[opInsert] != 1 || last.Rows != 1 {
		t.Fatalf("run after the crash: %+v", last.Incremental)
	}

	want := fromPostgres(t, conn)
	out := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	m, err := Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: out, Mem: mem})
	mem.AssertSize(t, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != int64(len(want.Rows)) {
		t.Fatalf("materialized %d rows, the table has %d", m.Rows, len(want.Rows))
	}
	for _, reader := range readback.Readers() {
		got, err := readback.FromParquet(ctx, reader, "id", m.File)
		if err != nil {
			t.Fatal(err)
		}
		if d := readback.Diff(want, got, 5); len(d) > 0 {
			t.Fatalf("materialize read with %s differs from the table:\n%s", reader, strings.Join(d, "\n"))
		}
	}
	sqlOut := filepath.Join(t.TempDir(), "sql.parquet")
	runDocSQL(t, dir, sqlOut)
	got, err := readback.FromParquet(ctx, readback.ReaderPyArrow, "id", sqlOut)
	if err != nil {
		t.Fatal(err)
	}
	if d := readback.Diff(want, got, 5); len(d) > 0 {
		t.Fatalf("the DuckDB SQL of docs/incremental.md differs from the table:\n%s", strings.Join(d, "\n"))
	}

	// As of the snapshot: the table as it was then.
	asOf := t.TempDir()
	m, err = Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: asOf, AsOfLSN: snap.Incremental.ToLSN})
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 1000 {
		t.Fatalf("as of the snapshot: %d rows, want 1000", m.Rows)
	}
	// As of run 2's end: the table as it was when run 2 ended.
	asOf = t.TempDir()
	if m, err = Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: asOf, AsOfLSN: ch.Incremental.ToLSN}); err != nil {
		t.Fatal(err)
	}
	got, err = readback.FromParquet(ctx, readback.ReaderPyArrow, "id", m.File)
	if err != nil {
		t.Fatal(err)
	}
	if d := readback.Diff(afterRun2, got, 5); len(d) > 0 {
		t.Fatalf("as of run 2's end:\n%s", strings.Join(d, "\n"))
	}
}

// TestSeam writes concurrently while the snapshot run reads and while the change run
// streams: whatever committed before the slot's consistent point must be in the snapshot and
// nothing after it, so that snapshot + changes give the table exactly (no gap, no overlap).
func TestSeam(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE seam (id int PRIMARY KEY, v bigint, s text)`)
	pgtest.Exec(t, conn, `INSERT INTO seam SELECT g, g, repeat('s', 100) FROM generate_series(1, 100000) g`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "seam")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "seam", OutputDir: dir, Parallel: 4}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_seam")

	stop := make(chan struct{})
	done := make(chan error, 1)
	writer := pgtest.Connect(t, dsn)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			_, err := writer.Exec(ctx, fmt.Sprintf(`BEGIN; INSERT INTO seam VALUES (%d, 0, 'new'); UPDATE seam SET v = v + 1 WHERE id = %d; COMMIT; DELETE FROM seam WHERE id = %d`,
				300000+i, 1+(i*7919)%100000, 1+(i*104729)%100000))
			if err != nil {
				done <- err
				return
			}
		}
	}()
	runOnce(t, opts, modeSnapshot)
	during := runOnce(t, opts, modeChanges) // while writes go on
	close(stop)
	if during.Incremental.Ops[opInsert] == 0 {
		t.Fatal("no writes committed while the snapshot run read: the seam is not tested")
	}
	t.Logf("changes after the snapshot, while writing: %v", during.Incremental.Ops)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	last := runOnce(t, opts, modeChanges)
	if last.Rows == 0 {
		t.Log("no writes after the second run")
	}
	materializeMatches(t, conn, dir, "seam", readback.ReaderDuckDB)
}

func fromPostgres(t *testing.T, conn *pgx.Conn) *readback.Table {
	t.Helper()
	return fromPostgresTable(t, conn, "t")
}

// materializeMatches materializes the chain in dir and fails t unless reader reads table's rows,
// as PostgreSQL holds them now, back from the file.
func materializeMatches(t *testing.T, conn *pgx.Conn, dir, table, reader string) {
	t.Helper()
	ctx := context.Background()
	m, err := Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readback.FromParquet(ctx, reader, "id", m.File)
	if err != nil {
		t.Fatal(err)
	}
	if d := readback.Diff(fromPostgresTable(t, conn, table), got, 5); len(d) > 0 {
		t.Fatalf("materialize differs from %s:\n%s", table, strings.Join(d, "\n"))
	}
}

func fromPostgresTable(t *testing.T, conn *pgx.Conn, table string) *readback.Table {
	t.Helper()
	ctx := context.Background()
	want, err := readback.FromTable(ctx, conn, table, "id")
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// readChanges reads a change run's files, without the commit time (the only column a rerun
// may not repeat... it does: it comes from the WAL) in canonical form.
func readChanges(t *testing.T, dir string) *readback.Table {
	t.Helper()
	tbl, err := readback.FromParquet(context.Background(), readback.ReaderPyArrow, colSeq, dir)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// checkUnchanged checks that the updates of rows with a TOASTed big name it in
// _pgparquet_unchanged and leave it NULL, and that no other row names anything.
func checkUnchanged(t *testing.T, dir string) {
	t.Helper()
	tbl := readChanges(t, dir)
	col := map[string]int{}
	for i, c := range tbl.Columns {
		col[c] = i
	}
	named := 0
	for _, r := range tbl.Rows {
		u := r[col[colUnchanged]]
		if u != nil && strings.Contains(*u, "big") {
			named++
			if r[col["big"]] != nil || *r[col[colOp]] != opUpdate {
				t.Fatalf("row %v: an unchanged value must be NULL, in an update", r)
			}
		}
	}
	if named != 5 { // ids 10, 20, 30, 40, 50
		t.Fatalf("%d rows name big as unchanged, want 5", named)
	}
}

// runDocSQL runs the DuckDB SQL of docs/incremental.md on the chain in dir and writes the
// result to out.
func runDocSQL(t *testing.T, dir, out string) {
	t.Helper()
	doc, err := os.ReadFile("../docs/incremental.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- materialize-sql -->\\s*```sql\\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/incremental.md has no materialize-sql block")
	}
	sql := strings.ReplaceAll(string(m[1]), "CHAIN", dir)
	py, err := readback.Python()
	if err != nil {
		t.Fatal(err)
	}
	script := "import duckdb, sys\nduckdb.sql(\"COPY (\" + sys.stdin.read().strip().rstrip(';') + \") TO '" + out + "' (FORMAT parquet)\")\n"
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = strings.NewReader(sql)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("duckdb: %v\n%s", err, b)
	}
}

// TestRefusals checks the tables and chains incremental mode refuses, and what it says. The
// exporter runs as leastPrivilegeDSN's role, granted SELECT on every table; the forced
// row-level security case runs as the table's owner (a role with LOGIN and REPLICATION that
// owns the table, no superuser: a superuser bypasses row-level security and could not test it).
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE nokey (id int, s text);
		CREATE TABLE nothing (id int PRIMARY KEY); ALTER TABLE nothing REPLICA IDENTITY NOTHING;
		CREATE TABLE gen (id int PRIMARY KEY, d int GENERATED ALWAYS AS (id * 2) STORED);
		CREATE TABLE byindex (a int NOT NULL, b text); CREATE UNIQUE INDEX byindex_a ON byindex (a);
		ALTER TABLE byindex REPLICA IDENTITY USING INDEX byindex_a;
		CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id); CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (10);
		CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child () INHERITS (parent);
		CREATE VIEW v AS SELECT 1 AS id;
		CREATE TABLE secured (id int PRIMARY KEY, s text); ALTER TABLE secured ENABLE ROW LEVEL SECURITY;
		CREATE TABLE owned (id int PRIMARY KEY, s text); ALTER TABLE owned ENABLE ROW LEVEL SECURITY; ALTER TABLE owned FORCE ROW LEVEL SECURITY`)
	// byindex's chain runs below, with its publication; the others are refused before one.
	etl := leastPrivilegeDSN(t, dsn, "byindex")
	etlRole := config(t, etl).User
	pgtest.Exec(t, conn, `GRANT SELECT ON nokey, nothing, gen, parted, parent, v, secured TO `+pgx.Identifier{etlRole}.Sanitize())
	createRole(t, dsn, "owner_role", "LOGIN REPLICATION")
	pgtest.Exec(t, conn, `ALTER TABLE owned OWNER TO owner_role`)
	owner := shared.Cluster(t).DSNAs(conn.Config().Database, "owner_role", rolePassword)
	tests := []struct {
		name, table, dsn string
		want             error
		wantText         string
	}{
		{"no primary key", "nokey", etl, ErrReplicaIdentity, "REPLICA IDENTITY"},
		{"replica identity nothing", "nothing", etl, ErrReplicaIdentity, "REPLICA IDENTITY"},
		{"generated column", "gen", etl, nil, "generated columns"},
		{"partitioned table", "parted", etl, nil, "partitioned tables and tables with inheritance children are not supported yet"},
		{"inheritance children", "parent", etl, nil, "partitioned tables and tables with inheritance children are not supported yet"},
		{"view", "v", etl, nil, "only tables are published (relkind v)"},
		{"row-level security", "secured", etl, ErrRowSecurity, "row-level security applies to the role " + etlRole},
		{"row-level security forced on the owner", "owned", owner, ErrRowSecurity, "row-level security applies to the role owner_role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(ctx, Options{Export: export.Options{ConnConfig: config(t, tc.dsn), Table: tc.table, OutputDir: t.TempDir(), Parallel: 1}})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.want, tc.wantText)
			}
		})
	}

	t.Run("replica identity using index", func(t *testing.T) {
		dir := t.TempDir()
		opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "byindex", OutputDir: dir, Parallel: 1}}
		dropSlotAtEnd(t, dsn, "pgparquet_public_byindex")
		res := runOnce(t, opts, modeSnapshot)
		if got := res.Incremental.KeyColumns; len(got) != 1 || got[0] != "a" {
			t.Fatalf("key columns %v, want [a]", got)
		}
		// The table is dropped and created again: another table, whose changes the slot
		// does not carry.
		pgtest.Exec(t, conn, `ALTER TABLE byindex RENAME TO byindex_old; CREATE TABLE byindex (a int PRIMARY KEY, b text)`)
		if _, err := Run(ctx, opts); !errors.Is(err, ErrSlotLost) || !strings.Contains(err.Error(), "dropped and created again") {
			t.Fatalf("run after the table was replaced: %v, want ErrSlotLost", err)
		}
		pgtest.Exec(t, conn, `DROP TABLE byindex; ALTER TABLE byindex_old RENAME TO byindex`)
		// The slot is dropped behind the chain's back: the next run must not go on.
		pgtest.Exec(t, conn, `SELECT pg_drop_replication_slot('pgparquet_public_byindex')`)
		if _, err := Run(ctx, opts); !errors.Is(err, ErrSlotLost) {
			t.Fatalf("run after the slot was dropped: %v, want ErrSlotLost", err)
		}
	})
}

// TestPublicationPrivileges is the first run of a role for which no DBA created the
// publication. With only what docs/incremental.md requires when a DBA does (LOGIN,
// REPLICATION, SELECT) it is refused with PostgreSQL's reason and leaves no slot behind; once
// the role also owns the table and holds CREATE on the database (what the doc says creating
// the publication takes) the run creates the publication itself, FOR TABLE the table WITH
// (publish_via_partition_root = true), and the chain goes on.
func TestPublicationPrivileges(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE pub (id int PRIMARY KEY, s text); INSERT INTO pub SELECT g, 's' || g FROM generate_series(1, 20) g`)
	etl := leastPrivilegeDSN(t, dsn) // no table: no publication
	role := pgx.Identifier{config(t, etl).User}.Sanitize()
	pgtest.Exec(t, conn, `GRANT SELECT ON pub TO `+role)
	const slot = "pgparquet_public_pub"
	dropSlotAtEnd(t, dsn, slot)
	dir := t.TempDir()
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "pub", OutputDir: dir, Parallel: 1}}
	if _, err := Run(ctx, opts); err == nil || !strings.Contains(err.Error(), "publication "+slot+" for public.pub: ERROR: permission denied for database") {
		t.Fatalf("first run without a publication: %v, want the publication refused (permission denied for database)", err)
	}
	var slots int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&slots); err != nil || slots != 0 {
		t.Fatalf("%d slots named %s after the refused run (%v), want none", slots, slot, err)
	}

	pgtest.Exec(t, conn, `ALTER TABLE pub OWNER TO `+role+`; GRANT CREATE ON DATABASE `+pgx.Identifier{conn.Config().Database}.Sanitize()+` TO `+role)
	if res := runOnce(t, opts, modeSnapshot); res.Rows != 20 {
		t.Fatalf("snapshot run: %d rows, want 20", res.Rows)
	}
	var viaRoot bool
	var tables []string
	if err := conn.QueryRow(ctx, `SELECT p.pubviaroot, array(SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = p.pubname)
		FROM pg_publication p WHERE p.pubname = $1`, slot).Scan(&viaRoot, &tables); err != nil {
		t.Fatalf("publication %s: %v", slot, err)
	}
	if !viaRoot || len(tables) != 1 || tables[0] != "public.pub" {
		t.Fatalf("publication %s: publish_via_partition_root %v, tables %v; want true, [public.pub]", slot, viaRoot, tables)
	}
	pgtest.Exec(t, conn, `UPDATE pub SET s = 'x' WHERE id = 1; INSERT INTO pub VALUES (21, 'new')`)
	if res := runOnce(t, opts, modeChanges); res.Incremental.Ops[opUpdate] != 1 || res.Incremental.Ops[opInsert] != 1 {
		t.Fatalf("change run: %+v", res.Incremental)
	}
}

// TestFirstRunRetried fails a first run after it created the slot: the next first run drops
// that slot (the chain directory names it) and starts again, while a slot the directory does
// not name is left alone.
func TestFirstRunRetried(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE fr (id int PRIMARY KEY); INSERT INTO fr SELECT generate_series(1, 10)`)
	dir := t.TempDir()
	dropSlotAtEnd(t, dsn, "pgparquet_public_fr")
	etl := config(t, leastPrivilegeDSN(t, dsn, "fr"))
	opts := Options{Export: export.Options{ConnConfig: etl, Table: "fr", OutputDir: dir, Parallel: 1}}
	// The snapshot run's directory cannot be created: the export fails after the slot was.
	blocker := filepath.Join(dir, "0001-snapshot")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, opts); err == nil {
		t.Fatal("the first run did not fail")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if res := runOnce(t, opts, modeSnapshot); res.Rows != 10 {
		t.Fatalf("retried first run: %d rows", res.Rows)
	}
	// Another directory, the same slot: refused, and the slot is kept.
	_, err := Run(ctx, Options{Export: export.Options{ConnConfig: etl, Table: "fr", OutputDir: t.TempDir(), Parallel: 1}})
	if err == nil || !strings.Contains(err.Error(), "slot pgparquet_public_fr exists but") {
		t.Fatalf("a second chain on the same slot: %v", err)
	}
	pgtest.Exec(t, conn, `INSERT INTO fr VALUES (11)`)
	if res := runOnce(t, opts, modeChanges); res.Incremental.Ops[opInsert] != 1 {
		t.Fatalf("change run: %+v", res.Incremental)
	}
}

// TestStreamedTransactions runs large transactions that the server streams while they run
// (logical_decoding_work_mem is small here): one commits with a rolled-back subtransaction,
// one aborts; only what committed is in the run.
func TestStreamedTransactions(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `ALTER DATABASE "`+conn.Config().Database+`" SET logical_decoding_work_mem = '64kB'`)
	pgtest.Exec(t, conn, `CREATE TABLE st (id int PRIMARY KEY, s text)`)
	pgtest.Exec(t, conn, `INSERT INTO st SELECT g, 'a' || g FROM generate_series(1, 100) g`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "st")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "st", OutputDir: dir, Parallel: 1},
		changeFileBytes: 16 << 10}
	dropSlotAtEnd(t, dsn, "pgparquet_public_st")
	runOnce(t, opts, modeSnapshot)

	pgtest.Exec(t, conn, `BEGIN;
		INSERT INTO st SELECT g, repeat('b', 50) FROM generate_series(101, 5100) g;
		SAVEPOINT sp; DELETE FROM st WHERE id <= 50; INSERT INTO st SELECT g, 'gone' FROM generate_series(10001, 13000) g; ROLLBACK TO SAVEPOINT sp;
		UPDATE st SET s = 'c' WHERE id BETWEEN 51 AND 60;
		COMMIT`)
	pgtest.Exec(t, conn, `BEGIN; INSERT INTO st SELECT g, 'aborted' FROM generate_series(20001, 25000) g; ROLLBACK`)
	res := runOnce(t, opts, modeChanges)
	if ops := res.Incremental.Ops; ops[opInsert] != 5000 || ops[opUpdate] != 10 || ops[opDelete] != 0 || res.Rows != 5010 {
		t.Fatalf("ops = %v, rows %d", ops, res.Rows)
	}
	if len(res.Files) < 2 || len(res.Incremental.Series) != 1 || len(res.Incremental.Series[0].Files) != len(res.Files) {
		t.Fatalf("files of 16KiB at most: %d files, series %+v", len(res.Files), res.Incremental.Series)
	}
	var streamed int64
	for range 100 {
		if err := conn.QueryRow(ctx, `SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'pgparquet_public_st'`).Scan(&streamed); err != nil {
			t.Fatal(err)
		}
		if streamed > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if streamed == 0 {
		t.Fatal("the server streamed no transaction: the test does not test streaming")
	}
	out := t.TempDir()
	m, err := Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: out})
	if err != nil {
		t.Fatal(err)
	}
	want := fromPostgresTable(t, conn, "st")
	got, err := readback.FromParquet(ctx, readback.ReaderDuckDB, "id", m.File)
	if err != nil {
		t.Fatal(err)
	}
	if d := readback.Diff(want, got, 5); len(d) > 0 {
		t.Fatalf("materialize differs from the table:\n%s", strings.Join(d, "\n"))
	}
}

// TestSchemaChanges drops a column (materialize leaves it out) and then changes a column's
// type (a new series; materialize refuses to mix the types).
func TestSchemaChanges(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE sc (id int PRIMARY KEY, a int, b text); INSERT INTO sc SELECT g, g, 'b' || g FROM generate_series(1, 20) g`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "sc")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "sc", OutputDir: dir, Parallel: 1}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_sc")
	runOnce(t, opts, modeSnapshot)

	pgtest.Exec(t, conn, `UPDATE sc SET b = 'x' WHERE id = 1; ALTER TABLE sc DROP COLUMN b; INSERT INTO sc VALUES (21, 21); UPDATE sc SET a = 0 WHERE id = 2`)
	res := runOnce(t, opts, modeChanges)
	inc := res.Incremental
	if inc.SchemaVersion != 2 || len(inc.Series) != 2 || len(inc.Series[1].Columns) != 2 {
		t.Fatalf("after a dropped column: %+v", inc)
	}
	materializeMatches(t, conn, dir, "sc", readback.ReaderPyArrow)

	// A type change rewrote the table: the change run refuses it, and the chain goes on from a
	// snapshot run.
	pgtest.Exec(t, conn, `ALTER TABLE sc ALTER a TYPE bigint; UPDATE sc SET a = 1 << 40 WHERE id = 3`)
	if _, err := Run(ctx, opts); !errors.Is(err, ErrRewritten) || !strings.Contains(err.Error(), "column a changed type from integer to bigint") {
		t.Fatalf("change run after a type change: %v", err)
	}
	if res := runOnce(t, Options{Export: opts.Export, Restart: "a changed type"}, modeSnapshot); res.Incremental.Run != 3 || res.Incremental.SchemaVersion != 3 {
		t.Fatalf("restarted after a type change: %+v", res.Incremental)
	}
	materializeMatches(t, conn, dir, "sc", readback.ReaderPyArrow)

	// A column added with a default: the existing rows hold it, the WAL does not say so.
	pgtest.Exec(t, conn, `ALTER TABLE sc ADD COLUMN d int NOT NULL DEFAULT 7; INSERT INTO sc VALUES (22, 22, 22)`)
	if _, err := Run(ctx, opts); err == nil || !strings.Contains(err.Error(), "columns d were added to public.sc with a DEFAULT") {
		t.Fatalf("run after ADD COLUMN ... DEFAULT: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "0004-changes")); !os.IsNotExist(err) {
		t.Fatalf("the failed run left its directory: %v", err)
	}
}

func TestDefaultSlot(t *testing.T) {
	tests := []struct{ table, want string }{
		{"public.orders", "pgparquet_public_orders"},
		{`"Sales"."Order Lines"`, "pgparquet_sales_orderlines"},
		{"public." + strings.Repeat("x", 80), "pgparquet_public_" + strings.Repeat("x", 46)},
	}
	for _, tc := range tests {
		if got := DefaultSlot(tc.table); got != tc.want || !validSlot(got) {
			t.Errorf("DefaultSlot(%q) = %q, want %q", tc.table, got, tc.want)
		}
	}
}

// typesDDL is a table of the types change runs decode from pgoutput's binary values (every
// type the default mapping decodes natively, arrays, composites, ranges).
const typesDDL = `
CREATE TYPE tmood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN tposint AS int4 CHECK (VALUE > 0);
CREATE TYPE tpair AS (a int4, b text, c numeric(10,2), d date, e tmood, f int4[]);
CREATE TABLE ty (
 id int8 PRIMARY KEY,
 b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
 n12 numeric(12,2), nfree numeric, t text, vc varchar(10), bp char(5), nm name,
 by bytea, u uuid, j json, jb jsonb,
 d date, ts timestamp, tstz timestamptz, tm time, ttz timetz, iv interval,
 e tmood, pi tposint,
 a_i4 int4[], a_2d int4[][], a_t text[], a_n numeric[], a_ts timestamptz[], a_pair tpair[],
 comp tpair, r4 int4range, rts tstzrange, mr4 int4multirange, o oid
)`

// typesValues are the values of row g of ty with values varied by g (NULLs included).
const typesValues = `g % 3 = 0, (g * 7)::int2, g * 7919, g::int8 * 104729 * 1000003, (g / 7.0)::float4, g * pi(),
 (g * 1.01)::numeric(12,2), round(g / 7.0, g % 12), repeat(md5(g::text), g % 4), left(md5(g::text), g % 10), left(md5(g::text), 3), 'n' || g,
 decode(md5(g::text), 'hex'), md5(g::text)::uuid, json_build_object('g', g), jsonb_build_object('g', g, 'a', array[g]),
 date '2000-01-01' + (g * 37 % 20000 - 10000), timestamp '2000-01-01' + g * interval '1 hour 1.000001 second',
 timestamptz '1970-01-01 00:00:00+00' + g * interval '17 minutes 0.000003 seconds', time '00:00' + g * interval '1 minute 0.5 s',
 (time '00:00' + g * interval '1 minute')::timetz, g * interval '1 mon 1 day 1.000001 s',
 (array['sad', 'ok', 'happy']::tmood[])[1 + g % 3], 1 + g % 100,
 array[g, NULL, -g], array[array[g, g + 1], array[g + 2, g + 3]], array['t' || g, NULL], array[g / 7.0, 'NaN'],
 array[timestamptz '2000-01-01 00:00:00+00' + g * interval '1 s', 'infinity'],
 array[ROW(g, 'p' || g, g * 0.5, date '2000-01-01' + g, 'ok', array[g])::tpair, NULL],
 CASE WHEN g % 5 <> 0 THEN ROW(g, 'c' || g, g * 0.25, date '2000-01-01' - g, 'happy', array[g, g])::tpair END,
 int4range(g, g + 10), tstzrange(timestamptz '2000-01-01 00:00:00+00' + g * interval '1 day', NULL),
 int4multirange(int4range(g, g + 1), int4range(g + 5, NULL)), g::oid`

// TestTypes runs changes of every natively decoded type through a chain: materialize must
// read back exactly as the table does.
func TestTypes(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, typesDDL)
	pgtest.Exec(t, conn, `INSERT INTO ty SELECT g, `+typesValues+` FROM generate_series(1, 300) g`)
	pgtest.Exec(t, conn, `INSERT INTO ty (id) VALUES (0)`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "ty")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "ty", OutputDir: dir, Parallel: 2}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_ty")
	runOnce(t, opts, modeSnapshot)

	pgtest.Exec(t, conn, `INSERT INTO ty SELECT g, `+typesValues+` FROM generate_series(301, 600) g`)
	pgtest.Exec(t, conn, `UPDATE ty AS x SET (b, i2, i4, i8, f4, f8, n12, nfree, t, vc, bp, nm, by, u, j, jb, d, ts, tstz, tm, ttz, iv, e, pi,
		a_i4, a_2d, a_t, a_n, a_ts, a_pair, comp, r4, rts, mr4, o) = (SELECT `+typesValues+` FROM (SELECT (x.id * 3 + 1)::int AS g) s) WHERE id % 4 = 1`)
	pgtest.Exec(t, conn, `UPDATE ty SET t = NULL, comp = NULL WHERE id % 7 = 0; DELETE FROM ty WHERE id % 11 = 0; INSERT INTO ty (id) VALUES (100000)`)
	if res := runOnce(t, opts, modeChanges); res.Incremental.SchemaVersion != 1 || len(res.Incremental.Series) != 1 {
		t.Fatalf("the schema as pgoutput describes it differs from the snapshot's: %+v", res.Incremental)
	}

	m, err := Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want := fromPostgresTable(t, conn, "ty")
	for _, reader := range readback.Readers() {
		got, err := readback.FromParquet(ctx, reader, "id", m.File)
		if err != nil {
			t.Fatal(err)
		}
		if d := readback.Diff(want, got, 5); len(d) > 0 {
			t.Fatalf("materialize read with %s differs from the table:\n%s", reader, strings.Join(d, "\n"))
		}
	}
}

// TestReplicaIdentityFull keeps a chain of a table without a key, with duplicate rows:
// updates and deletes carry the whole old row, and touch one of the duplicates; a TOASTed
// value left unchanged and a column dropped midway (rows are then known by the columns left).
func TestReplicaIdentityFull(t *testing.T) {
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE nk (id int NOT NULL, s text, big text, x int); ALTER TABLE nk REPLICA IDENTITY FULL;
		ALTER TABLE nk ALTER big SET STORAGE EXTERNAL;
		INSERT INTO nk SELECT g % 50, 's' || (g % 50), CASE WHEN g % 10 = 0 THEN repeat('b', 5000) || g % 50 END, g % 3 FROM generate_series(1, 200) g`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "nk")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "nk", OutputDir: dir, Parallel: 1}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_nk")
	if res := runOnce(t, opts, modeSnapshot); len(res.Incremental.KeyColumns) != 0 {
		t.Fatalf("key columns %v, want none", res.Incremental.KeyColumns)
	}
	pgtest.Exec(t, conn, `UPDATE nk SET s = 'one of' WHERE ctid = (SELECT min(ctid) FROM nk WHERE id = 10);
		UPDATE nk SET x = -1 WHERE id = 20;
		DELETE FROM nk WHERE ctid = (SELECT min(ctid) FROM nk WHERE id = 30);
		INSERT INTO nk VALUES (10, 's10', NULL, 0), (1000, NULL, NULL, NULL)`)
	res := runOnce(t, opts, modeChanges)
	if ops := res.Incremental.Ops; ops[opUpdateOld] != ops[opUpdate] || ops[opUpdate] != 5 || ops[opDelete] != 1 || res.Incremental.SchemaVersion != 1 {
		t.Fatalf("ops %v, schema version %d", ops, res.Incremental.SchemaVersion)
	}
	pgtest.Exec(t, conn, `ALTER TABLE nk DROP COLUMN x; UPDATE nk SET s = 'after drop' WHERE ctid = (SELECT min(ctid) FROM nk WHERE id = 20);
		DELETE FROM nk WHERE ctid = (SELECT max(ctid) FROM nk WHERE id = 40)`)
	runOnce(t, opts, modeChanges)

	materializeMatches(t, conn, dir, "nk", readback.ReaderPyArrow)
}

// TestReplicaIdentityChange switches a table from its primary key to REPLICA IDENTITY FULL
// between runs: a new series, and materialize matches rows by the new identity from there.
func TestReplicaIdentityChange(t *testing.T) {
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE ri (id int PRIMARY KEY, s text); INSERT INTO ri SELECT g, 's' || g FROM generate_series(1, 50) g`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "ri")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "ri", OutputDir: dir, Parallel: 1}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_ri")
	runOnce(t, opts, modeSnapshot)
	pgtest.Exec(t, conn, `UPDATE ri SET s = 'pk' WHERE id <= 5`)
	pgtest.Exec(t, conn, `ALTER TABLE ri REPLICA IDENTITY FULL; UPDATE ri SET s = 'full' WHERE id BETWEEN 4 AND 8; DELETE FROM ri WHERE id = 9`)
	res := runOnce(t, opts, modeChanges)
	if res.Incremental.SchemaVersion != 2 || len(res.Incremental.Series) != 2 {
		t.Fatalf("after the replica identity changed: %+v", res.Incremental)
	}
	materializeMatches(t, conn, dir, "ri", readback.ReaderPyArrow)
}

// TestRestart restarts a chain whose slot was dropped: the change run refuses the lost slot,
// a restarted run is a snapshot run numbered next, the chain goes on from it, and materialize
// starts from it (as of an LSN before it, from the first snapshot).
func TestRestart(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, s text); INSERT INTO t SELECT g, 'a' || g FROM generate_series(1, 100) g`)
	dir := t.TempDir()
	dropSlotAtEnd(t, dsn, "pgparquet_public_t")
	etl := leastPrivilegeDSN(t, dsn, "t")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "t", OutputDir: dir, Parallel: 2}}
	runOnce(t, opts, modeSnapshot)
	pgtest.Exec(t, conn, `UPDATE t SET s = 'b' WHERE id <= 10`)
	ch := runOnce(t, opts, modeChanges)
	afterRun2 := fromPostgres(t, conn)
	if err := dropSlot(ctx, conn, "pgparquet_public_t"); err != nil {
		t.Fatal(err)
	}
	// Changes made while the chain has no slot: only a snapshot can show them.
	pgtest.Exec(t, conn, `DELETE FROM t WHERE id > 90; INSERT INTO t VALUES (1000, 'lost')`)
	if _, err := Run(ctx, opts); !errors.Is(err, ErrSlotLost) {
		t.Fatalf("change run without its slot: %v, want ErrSlotLost", err)
	}
	restarted := Options{Export: opts.Export, Restart: "slot dropped by the test"}
	snap := runOnce(t, restarted, modeSnapshot)
	if snap.Incremental.Run != 3 || snap.Incremental.Restart == "" || snap.Rows != 91 {
		t.Fatalf("restarted run: run %d, restart %q, %d rows", snap.Incremental.Run, snap.Incremental.Restart, snap.Rows)
	}
	pgtest.Exec(t, conn, `UPDATE t SET s = 'c' WHERE id = 1000`)
	if res := runOnce(t, opts, modeChanges); res.Incremental.Run != 4 || res.Incremental.Ops[opUpdate] != 1 {
		t.Fatalf("change run after the restart: %+v", res.Incremental)
	}
	for _, c := range []struct {
		asOf string
		want *readback.Table
	}{{"", fromPostgres(t, conn)}, {ch.Incremental.ToLSN, afterRun2}} {
		m, err := Materialize(ctx, MaterializeOptions{Input: dir, OutputDir: t.TempDir(), AsOfLSN: c.asOf})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readback.FromParquet(ctx, readback.ReaderPyArrow, "id", m.File)
		if err != nil {
			t.Fatal(err)
		}
		if d := readback.Diff(c.want, got, 5); len(d) > 0 {
			t.Fatalf("materialize as of %q:\n%s", c.asOf, strings.Join(d, "\n"))
		}
	}
}

// TestChangeFileStatistics: every statistic of a change file is true, and in particular the
// minimum of a text and a bytea column whose only empty values come in a decoded batch of no
// value bytes (a flush of flushRows changes whose values are all empty or NULL, after one of
// others): arrow-go would leave them out of the minimum (pqfile.WithValueBytes).
func TestChangeFileStatistics(t *testing.T) {
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, s text, b bytea)`)
	dir := t.TempDir()
	etl := leastPrivilegeDSN(t, dsn, "t")
	opts := Options{Export: export.Options{ConnConfig: config(t, etl), Table: "t", OutputDir: dir, Parallel: 1}}
	dropSlotAtEnd(t, dsn, "pgparquet_public_t")
	runOnce(t, opts, modeSnapshot)
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO t SELECT g, 'x' || g, 'x'::bytea FROM generate_series(1, %d) g`, flushRows))
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO t SELECT g, CASE WHEN g %% 2 = 0 THEN '' END, CASE WHEN g %% 3 = 0 THEN ''::bytea END
		FROM generate_series(%d, %d) g`, flushRows+1, flushRows+100))
	ch := runOnce(t, opts, modeChanges)
	if ch.Rows != flushRows+100 {
		t.Fatalf("%d changes, want %d", ch.Rows, flushRows+100)
	}
	checked, err := readback.CheckStatistics(context.Background(), filepath.Join(dir, "0002-changes"))
	if err != nil {
		t.Fatal(err)
	}
	if checked.ChunkMinMax == 0 {
		t.Fatalf("no min and max compared: %+v", checked)
	}
}
