package sidecar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// env is one test's database (deploy/roles.sql installed), its superuser session, a session
// of req (a login role with password "pw" that the sidecar serves: newEnv's reads every table,
// leastPrivilegeReqEnv's only what the test grants it, leastPrivilegeEnv has none) and an
// output root. dsn is the sidecar's (a superuser's for newEnv, pgparquet's for
// leastPrivilegeEnv); suDSN is a superuser's.
type env struct {
	dsn   string
	suDSN string
	db    string
	su    *pgx.Conn
	req   *pgx.Conn
	root  string
}

// newEnv is an env whose sidecar runs as a superuser, with the control tables migrated and
// req granted read access to every table (pg_read_all_data).
func newEnv(t *testing.T) *env {
	t.Helper()
	dsn := shared.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{dsn: dsn, suDSN: dsn, db: cfg.Database, su: pgtest.Connect(t, dsn), root: t.TempDir()}
	if _, err := control.Migrate(context.Background(), e.su, control.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	pgtest.InstallRoles(t, shared.Cluster(t), e.db)
	e.req = e.role(t, "req")
	// pg_read_all_data is PostgreSQL 14's; on 13 a group role (never dropped: roles are the
	// cluster's, grants the database's) reads the tables the tests create.
	pgtest.Exec(t, e.su, `DO $$ BEGIN
		IF current_setting('server_version_num')::int >= 140000 THEN
			EXECUTE 'GRANT pg_read_all_data TO req';
		ELSE
			BEGIN
				CREATE ROLE test_read_all;
			EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
			END;
			GRANT SELECT ON ALL TABLES IN SCHEMA public TO test_read_all;
			ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO test_read_all;
			GRANT test_read_all TO req;
		END IF;
	END $$`)
	return e
}

// role creates a login role with password "pw" that the sidecar serves and returns a
// session as it. Roles are the cluster's: the cleanup unserves and drops it on a superuser
// session of its own, since e.su may be one that reconnect opened after this call, closed
// by then (cleanups run last first), and a role left behind with a grant in this database
// could not be dropped by the next test that makes it.
func (e *env) role(t *testing.T, name string) *pgx.Conn {
	t.Helper()
	pgtest.Exec(t, e.su, `DROP ROLE IF EXISTS `+name)
	pgtest.Exec(t, e.su, `CREATE ROLE `+name+` LOGIN PASSWORD 'pw'`)
	pgtest.ServeRole(t, e.su, name)
	t.Cleanup(func() {
		ctx := context.Background()
		su, err := pgx.Connect(ctx, e.suDSN)
		if err != nil {
			t.Logf("drop role %s: %v", name, err)
			return
		}
		defer su.Close(ctx)
		drop := func(q string, args ...any) {
			if _, err := su.Exec(ctx, q, args...); err != nil {
				t.Logf("drop role %s: %s: %v", name, q, err)
			}
		}
		drop(`SELECT pgparquet_auth.unserve_role($1::text::regrole)`, name)
		drop(`DROP OWNED BY ` + name)
		drop(`DROP ROLE ` + name)
	})
	return pgtest.Connect(t, shared.Cluster(t).DSNAs(e.db, name, "pw"))
}

// reconnect opens new superuser and req sessions after a server restart (req's only if the
// env has one).
func (e *env) reconnect(t *testing.T) {
	t.Helper()
	e.su = pgtest.Connect(t, e.suDSN)
	if e.req != nil {
		e.req = pgtest.Connect(t, shared.Cluster(t).DSNAs(e.db, "req", "pw"))
	}
}

// running is a started sidecar; stop cancels its context and waits for Run to return.
type running struct {
	*Sidecar
	stop func()
}

func (e *env) start(t *testing.T, id string, tune func(*Config, *hooks)) *running {
	t.Helper()
	cfg, err := pgx.ParseConfig(e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	c := Config{ConnConfig: cfg, OutputRoot: e.root, ID: id, PollInterval: 500 * time.Millisecond,
		Heartbeat: time.Second, Lease: 3 * time.Second, Parallel: 2,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	var h hooks
	if tune != nil {
		tune(&c, &h)
	}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	s.hooks = h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	r := &running{Sidecar: s, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sidecar %s: %v", id, err)
			}
		})
	}}
	t.Cleanup(r.stop)
	return r
}

// testWriter sends logs to t.Log until the test ends.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() //nolint:errcheck // a log line after the test ended is dropped
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// insert queues a request from conn (a session of its own) and returns its id.
func insert(t *testing.T, conn *pgx.Conn, table, outputPath string) int64 {
	t.Helper()
	var id int64
	var out *string
	if outputPath != "" {
		out = &outputPath
	}
	if err := conn.QueryRow(context.Background(), `INSERT INTO parquet_export_requests (table_name, output_path) VALUES ($1, $2) RETURNING id`, table, out).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// status is a request's row of parquet_export_status.
type status struct {
	State, Sidecar, Error, OutputDir string
	Rows                             int64
	Attempt                          int
}

func (e *env) status(t *testing.T, id int64) status {
	t.Helper()
	var st status
	err := e.su.QueryRow(context.Background(), `SELECT state, coalesce(sidecar, ''), coalesce(error, ''), coalesce(output_dir, ''),
		coalesce(rows, 0), attempt FROM parquet_export_status WHERE id = $1`, id).
		Scan(&st.State, &st.Sidecar, &st.Error, &st.OutputDir, &st.Rows, &st.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	if st.OutputDir != "" {
		st.OutputDir = filepath.Join(e.root, filepath.FromSlash(st.OutputDir))
	}
	return st
}

// waitState waits until request id is in state want and returns its status.
func (e *env) waitState(t *testing.T, id int64, want string, within time.Duration) status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := e.status(t, id)
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %d is %+v after %s, want %s", id, st, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkFiles compares the files table with the files on disk and returns the rows in them.
func (e *env) checkFiles(t *testing.T, id int64, dir string) int64 {
	t.Helper()
	rows, err := e.su.Query(context.Background(), `SELECT path, rows, bytes, sha256 FROM parquet_export_files WHERE request_id = $1 ORDER BY path`, id)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	var n int
	var path, sum string
	var r, bytes int64
	if _, err := pgx.ForEachRow(rows, []any{&path, &r, &bytes, &sum}, func() error {
		n++
		total += r
		data, err := os.ReadFile(filepath.Join(e.root, filepath.FromSlash(path)))
		if err != nil {
			return err
		}
		h := sha256.Sum256(data)
		if int64(len(data)) != bytes || hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: %d bytes, sha256 %x; files table says %d, %s", path, len(data), h, bytes, sum)
		}
		if filepath.Join(e.root, filepath.FromSlash(filepath.Dir(path))) != dir {
			t.Errorf("file %s is not in output dir %s", path, dir)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("request %d: no files recorded", id)
	}
	if _, err := os.Stat(filepath.Join(dir, export.ManifestName)); err != nil {
		t.Errorf("request %d: %v", id, err)
	}
	return total
}

// TestServe queues requests from other sessions and checks each outcome: files on disk, the
// files table and the status view for exports that succeed, a one-line reason for those that
// must fail.
func TestServe(t *testing.T) {
	e := newEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 10000) g`)
	pgtest.Exec(t, e.su, `CREATE TABLE secret AS SELECT g AS id FROM generate_series(1, 10) g`)
	pgtest.Exec(t, e.su, `CREATE TABLE docs (owner name, body text)`)
	pgtest.Exec(t, e.su, `INSERT INTO docs SELECT CASE WHEN g <= 3 THEN 'alice' ELSE 'bob' END, 'doc ' || g FROM generate_series(1, 8) g`)
	pgtest.Exec(t, e.su, `ALTER TABLE docs ENABLE ROW LEVEL SECURITY`)
	pgtest.Exec(t, e.su, `CREATE POLICY mine ON docs USING (owner = current_user)`)
	pgtest.Exec(t, e.su, `CREATE TABLE t (a int)`)
	pgtest.Exec(t, e.su, `CREATE TABLE "x""; DROP TABLE t; --" AS SELECT g AS a FROM generate_series(1, 7) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items, docs, "x""; DROP TABLE t; --" TO alice`)
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(e.root, "alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.root, "alice", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(e.root, "alice", "stray"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "alice", "stray", "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(t, "s1", nil)

	tests := []struct {
		name       string
		table      string
		outputPath string
		wantRows   int64  // when the export must succeed
		wantErr    string // when it must fail
		refused    string // when the INSERT must be refused
	}{
		{name: "small table", table: "items", wantRows: 10000},
		{name: "chosen output path", table: "public.items", outputPath: "daily/items", wantRows: 10000},
		{name: "row-level security", table: "docs", wantRows: 3},
		{name: "injection-shaped name quoted", table: `"x""; DROP TABLE t; --"`, wantRows: 7},
		{name: "no privilege", table: "secret", wantErr: "permission denied: role alice may not SELECT from public.secret"},
		{name: "dot-dot", table: "items", outputPath: "a/../../escape", refused: "'..' is refused"},
		{name: "absolute", table: "items", outputPath: outside, refused: "absolute paths are refused"},
		{name: "symlink escape", table: "items", outputPath: "link/x", wantErr: "path escapes from parent"},
		{name: "files already there", table: "items", outputPath: "stray",
			wantErr: "is not empty (1 entries): it holds files that are not this export's; choose another output_path, or remove the files there"},
		{name: "root itself", table: "items", outputPath: "./", refused: "names no directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if tc.refused != "" {
				_, err := alice.Exec(context.Background(), `INSERT INTO parquet_export_requests (table_name, output_path) VALUES ($1, $2)`, tc.table, tc.outputPath)
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Errorf("insert: %v, want an error containing %q", err, tc.refused)
				}
				return
			}
			id := insert(t, alice, tc.table, tc.outputPath)
			if tc.wantErr != "" {
				st := e.waitState(t, id, "failed", 10*time.Second)
				if !strings.Contains(st.Error, tc.wantErr) || strings.Contains(st.Error, "\n") {
					t.Errorf("error %q, want one line containing %q", st.Error, tc.wantErr)
				}
				if st.Attempt != 1 {
					t.Errorf("attempt %d: a permanent error must not be retried", st.Attempt)
				}
				return
			}
			st := e.waitState(t, id, "succeeded", 10*time.Second)
			t.Logf("request %d succeeded in %s", id, time.Since(start))
			if st.Rows != tc.wantRows || st.Sidecar != "s1" || st.Error != "" {
				t.Errorf("status %+v, want %d rows by s1", st, tc.wantRows)
			}
			if got := e.checkFiles(t, id, st.OutputDir); got != tc.wantRows {
				t.Errorf("files hold %d rows, want %d", got, tc.wantRows)
			}
			if tc.outputPath != "" && st.OutputDir != filepath.Join(e.root, "alice", tc.outputPath) {
				t.Errorf("output dir %s, want under %s", st.OutputDir, tc.outputPath)
			}
			var snapshot, decoder, lsn string
			if err := e.su.QueryRow(context.Background(), `SELECT snapshot, decoder, lsn::text FROM parquet_export_requests WHERE id = $1`, id).Scan(&snapshot, &decoder, &lsn); err != nil || snapshot == "" || decoder != "cpu" || lsn == "" {
				t.Errorf("snapshot %q, decoder %q, lsn %q (%v)", snapshot, decoder, lsn, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("an export escaped the output root")
	}
	pgtest.Exec(t, e.su, `SELECT 't'::regclass`)
}

// TestIdleReleasesMemory: once its last running export ends, a sidecar gives the memory its
// exports freed back to the system (releaseMemory; here a hook that says when it runs, and
// that no export runs then), and not while one still runs: two exports at once (Concurrency
// 2, the first held at its snapshot until the second runs) make one release, after both. The
// sidecar runs as deploy/roles.sql's pgparquet for a requester whose own row-level security
// policy, calling the requester's own function, runs inside the exports.
func TestIdleReleasesMemory(t *testing.T) {
	e := leastPrivilegeReqEnv(t)
	pgtest.Exec(t, e.su, `CREATE SCHEMA req AUTHORIZATION req`)
	pgtest.Exec(t, e.req, `CREATE TABLE req.items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 20000) g;
 CREATE FUNCTION req.keep(id int) RETURNS bool LANGUAGE sql AS 'SELECT id % 2 = 0';
 ALTER TABLE req.items ENABLE ROW LEVEL SECURITY; ALTER TABLE req.items FORCE ROW LEVEL SECURITY;
 CREATE POLICY even ON req.items USING (req.keep(id))`)
	releaseMemory() // the real one runs at all
	var s atomic.Pointer[running]
	idle := make(chan int, 4)
	second := make(chan struct{})
	var held atomic.Bool
	s.Store(e.start(t, "s1", func(c *Config, h *hooks) {
		c.Concurrency = 2
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			if held.CompareAndSwap(false, true) {
				select { // the first export waits for the second to take its snapshot
				case <-second:
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
				}
				return nil
			}
			close(second)
			return nil
		}
		h.onIdle = func() { idle <- s.Load().jobs.len() }
	}))
	waitHealthy(t, s.Load().Sidecar, true) // the control tables exist once it polled
	a, b := insert(t, e.req, "req.items", "a"), insert(t, e.req, "req.items", "b")
	for _, id := range []int64{a, b} {
		if st := e.waitState(t, id, "succeeded", 20*time.Second); st.Rows != 10000 {
			t.Errorf("request %d: %d rows, want the policy's 10000", id, st.Rows)
		}
	}
	select {
	case n := <-idle:
		if n != 0 {
			t.Errorf("memory released while %d exports ran", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no memory release after the last export ended")
	}
	select {
	case <-idle:
		t.Error("memory released twice: once while the other export still ran")
	case <-time.After(500 * time.Millisecond):
	}
}
