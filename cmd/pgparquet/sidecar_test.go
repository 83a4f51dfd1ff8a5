package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// sidecarDB creates a database with the roles of deploy/roles.sql, a table items (1000
// rows), a role alice (password "pw", served through pgparquet_auth.serve_role) that may read
// it, and a table slow (rows of 2 KB) whose row-level security policy sleeps knob.sleep
// seconds per row read by alice, so that a test can hold her export mid-way and then let it
// finish. The control tables do not exist until the sidecar's first start (or `pgparquet
// migrate`) creates them. It returns the DSN of pgparquet, the least-privileged role the
// sidecar runs as in production (no superuser, no BYPASSRLS, REPLICATION), alice's DSN, and
// a superuser session for the test's own setup and checks.
func sidecarDB(t *testing.T, slowRows int) (sidecarDSN, aliceDSN string, su *pgx.Conn) {
	t.Helper()
	dsn := shared.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	su = pgtest.Connect(t, dsn)
	pgtest.Exec(t, su, `DO $$ BEGIN CREATE ROLE alice LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	pgtest.InstallRoles(t, shared.Cluster(t), cfg.Database)
	pgtest.ServeRole(t, su, "alice")
	for _, sql := range []string{
		`CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 1000) g`,
		`CREATE TABLE knob (sleep float8 NOT NULL)`,
		`INSERT INTO knob VALUES (0)`,
		`CREATE FUNCTION slow_ok() RETURNS boolean LANGUAGE plpgsql VOLATILE SECURITY DEFINER AS $$
			DECLARE s float8;
			BEGIN SELECT sleep INTO s FROM knob; IF s > 0 THEN PERFORM pg_sleep(s); END IF; RETURN true; END $$`,
		fmt.Sprintf(`CREATE TABLE slow AS SELECT g AS id, repeat(md5(g::text), 64) AS body FROM generate_series(1, %d) g`, slowRows),
		`ALTER TABLE slow ENABLE ROW LEVEL SECURITY`,
		`CREATE POLICY slowly ON slow USING (slow_ok())`,
		`GRANT SELECT ON items, slow TO alice`,
	} {
		pgtest.Exec(t, su, sql)
	}
	var super, bypass, repl bool
	if err := su.QueryRow(context.Background(), `SELECT rolsuper, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = 'pgparquet'`).
		Scan(&super, &bypass, &repl); err != nil || super || bypass || !repl {
		t.Fatalf("role pgparquet after deploy/roles.sql: superuser=%t bypassrls=%t replication=%t (%v)", super, bypass, repl, err)
	}
	c := shared.Cluster(t)
	return c.DSNAs(cfg.Database, "pgparquet", pgtest.RolesPassword), c.DSNAs(cfg.Database, "alice", "pw"), su
}

// lockedBuffer collects a process's stderr while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sidecarProc is a `pgparquet sidecar` process.
type sidecarProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	addr   string // of /healthz and /metrics
	done   chan error
}

// startSidecar starts `pgparquet sidecar` with a short poll, heartbeat and lease, plus args
// and env, and waits until /healthz answers 200. The process is killed at the end of the
// test if still running.
func startSidecar(t *testing.T, bin, id string, env []string, args ...string) *sidecarProc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	full := append([]string{"sidecar", "--id", id, "--listen", addr, "--poll-interval", "200ms",
		"--heartbeat", "1s", "--lease", "3s", "--parallel", "2"}, args...)
	p := &sidecarProc{cmd: exec.Command(bin, full...), stderr: &lockedBuffer{}, addr: addr, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-p.done
		if t.Failed() {
			t.Logf("sidecar %s stderr:\n%s", id, p.stderr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := p.get("/healthz"); code == http.StatusOK {
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("sidecar %s exited at start: %v\n%s", id, err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar %s not healthy after 30s:\n%s", id, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches path from the sidecar's HTTP listener.
func (p *sidecarProc) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// wait waits for the process to exit and returns its exit code.
func (p *sidecarProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(within):
		t.Fatalf("sidecar still running after %s:\n%s", within, p.stderr.String())
		return -1
	}
}

// requestState is a request's row in parquet_export_status.
type requestState struct {
	State, Sidecar, Error, Note, OutputDir string
	Attempt                                int
	Rows                                   int64
}

func stateOf(t *testing.T, su *pgx.Conn, id int64) requestState {
	t.Helper()
	var st requestState
	if err := su.QueryRow(context.Background(), `SELECT state, coalesce(sidecar, ''), coalesce(error, ''), coalesce(note, ''),
			coalesce(output_dir, ''), attempt, coalesce(rows, 0) FROM parquet_export_status WHERE id = $1`, id).
		Scan(&st.State, &st.Sidecar, &st.Error, &st.Note, &st.OutputDir, &st.Attempt, &st.Rows); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, su *pgx.Conn, id int64, state string, within time.Duration) requestState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := stateOf(t, su, id)
		if st.State == state {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %d is %+v after %s, want %s", id, st, within, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queue inserts a request as alice: with psql when it is installed (a separate session, as a
// DBA would), else over pgx. It returns the request id.
func queue(t *testing.T, aliceDSN, table, outputPath string) int64 {
	t.Helper()
	sql := fmt.Sprintf(`INSERT INTO parquet_export_requests (table_name, output_path) VALUES (%s, %s) RETURNING id`,
		quoteLiteral(table), quoteLiteral(outputPath))
	var id int64
	if psql, err := exec.LookPath("psql"); err == nil {
		out, err := exec.Command(psql, aliceDSN, "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		if _, err := fmt.Sscan(string(out), &id); err != nil {
			t.Fatalf("psql printed %q: %v", out, err)
		}
		return id
	}
	if err := pgtest.Connect(t, aliceDSN).QueryRow(context.Background(), sql).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// partialFiles lists the files of attempts' staging directories under dir.
func partialFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error { //nolint:errcheck // a missing dir has none
		if err == nil && !d.IsDir() && strings.Contains(path, string(filepath.Separator)+export.StagingPrefix) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// checkOutput checks a succeeded request's files: each recorded one exists with its size, the
// manifest is there, and nothing partial is left.
func checkOutput(t *testing.T, su *pgx.Conn, root string, id int64, st requestState) {
	t.Helper()
	rows, err := su.Query(context.Background(), `SELECT path, bytes FROM parquet_export_files WHERE request_id = $1`, id)
	if err != nil {
		t.Fatal(err)
	}
	var path string
	var size int64
	n := 0
	if _, err := pgx.ForEachRow(rows, []any{&path, &size}, func() error {
		n++
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			return err
		}
		if fi.Size() != size {
			t.Errorf("%s: %d bytes, files table says %d", path, fi.Size(), size)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("request %d: no files recorded", id)
	}
	dir := filepath.Join(root, st.OutputDir)
	if _, err := os.Stat(filepath.Join(dir, export.ManifestName)); err != nil {
		t.Errorf("request %d: %v", id, err)
	}
	if p := partialFiles(dir); len(p) > 0 {
		t.Errorf("request %d: partial files left: %v", id, p)
	}
}

// TestMigrateAndStatusCommands runs `pgparquet migrate` as the sidecar's role pgparquet
// (docs/sidecar.md's way of applying migrations ahead of time) twice (applies, then nothing
// to do), and in a schema of its own that a DBA created for it (deploy/roles.sql), and
// `pgparquet status` as a requester.
func TestMigrateAndStatusCommands(t *testing.T) {
	bin := buildBinary(t)
	dsn, aliceDSN, su := sidecarDB(t, 10)
	pgtest.Exec(t, su, `CREATE SCHEMA ctl AUTHORIZATION pgparquet`) // pgparquet may not create schemas
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("pgparquet %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	migs, err := control.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	versions := make([]string, len(migs))
	for i, m := range migs {
		versions[i] = fmt.Sprint(m.Version)
	}
	all := "[" + strings.Join(versions, " ") + "]"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--dsn", dsn}, "schema public: applied migrations " + all + "\n"},
		{[]string{"migrate", "--dsn", dsn}, "schema public: up to date\n"},
		{[]string{"migrate", "--dsn", dsn, "--schema", "ctl"}, "schema ctl: applied migrations " + all + "\n"},
	}
	for _, tc := range tests {
		if got := run(tc.args...); got != tc.want {
			t.Errorf("pgparquet %s printed %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	id := queue(t, aliceDSN, "items", "")
	pgtest.Exec(t, su, `INSERT INTO parquet_export_requests (table_name) VALUES ('slow')`) // the superuser's: not alice's to see
	out := run("status", "--dsn", aliceDSN)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "STATE") ||
		!strings.HasPrefix(lines[1], fmt.Sprint(id)) || !strings.Contains(lines[1], " public.items ") || !strings.Contains(lines[1], "queued") {
		t.Errorf("status as alice:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		rows int
	}{
		{[]string{"--state", "queued,running"}, 1}, {[]string{"--state", "failed"}, 0},
		{[]string{"--table", "items"}, 1}, {[]string{"--table", "public.items"}, 1}, {[]string{"--table", "slow"}, 0},
		{[]string{"--requester", "alice"}, 1}, {[]string{"--requester", "bob"}, 0},
	} {
		out := run(append([]string{"status", "--dsn", aliceDSN}, tc.args...)...)
		if n := len(strings.Split(strings.TrimSpace(out), "\n")) - 1; n != tc.rows {
			t.Errorf("status %v: %d rows, want %d:\n%s", tc.args, n, tc.rows, out)
		}
	}
	if err := exec.Command(bin, "status", "--dsn", aliceDSN, "--state", "runing").Run(); err == nil {
		t.Error("status --state runing succeeded")
	}
	// An incremental chain is made when its first run is asked for; status --chains shows it.
	pgtest.Exec(t, su, `ALTER TABLE items ADD PRIMARY KEY (id)`)
	alice := pgtest.Connect(t, aliceDSN)
	pgtest.Exec(t, alice, `SELECT parquet_export('items', '{"mode": "incremental"}')`)
	out = run("status", "--dsn", aliceDSN, "--chains")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "CHAIN") ||
		!strings.Contains(lines[0], "RETAINED_WAL") || !strings.Contains(lines[1], " public.items ") || !strings.Contains(lines[1], " active ") ||
		!strings.Contains(lines[1], "alice/public.items/incremental") {
		t.Errorf("status --chains as alice:\n%s", out)
	}
	if err := exec.Command(bin, "status", "--dsn", aliceDSN, "--ended").Run(); err == nil {
		t.Error("status --ended without --chains succeeded")
	}
	if err := exec.Command(bin, "migrate", "--dsn", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2").Run(); err == nil {
		t.Error("migrate against no server succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("migrate against no server: %v, want exit 1", err)
	}
}

// TestSidecarProcess runs `pgparquet sidecar` as a real process, logged in as
// deploy/roles.sql's pgparquet as in production: it migrates at start (creating the control
// tables), serves a request inserted from psql, shows it in /metrics, and on SIGTERM drains:
// an export in flight finishes within the drain timeout and the process exits 0; one that
// would take longer is put back in the queue with a note, and the process still exits 0.
func TestSidecarProcess(t *testing.T) {
	bin := buildBinary(t)
	dsn, aliceDSN, su := sidecarDB(t, 4000)
	root := t.TempDir()
	// The output root from the environment, the rest from flags.
	p1 := startSidecar(t, bin, "p1", []string{"PGPARQUET_OUTPUT_ROOT=" + root}, "--dsn", dsn, "--drain-timeout", "30s")

	start := time.Now()
	id := queue(t, aliceDSN, "items", "items-out")
	st := waitFor(t, su, id, "succeeded", 15*time.Second)
	t.Logf("request %d succeeded %s after the INSERT", id, time.Since(start))
	if st.Rows != 1000 || st.Sidecar != "p1" || st.OutputDir != "alice/items-out" {
		t.Errorf("status %+v", st)
	}
	checkOutput(t, su, root, id, st)
	var owner string
	if err := su.QueryRow(context.Background(), `SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'parquet_export_requests'`).
		Scan(&owner); err != nil || owner != "pgparquet" {
		t.Errorf("control tables owned by %q (%v), want pgparquet, the sidecar's role", owner, err)
	}
	_, metrics := p1.get("/metrics")
	for _, want := range []string{`pgparquet_sidecar_exports_total{outcome="succeeded"} 1`, "pgparquet_sidecar_rows_total 1000",
		"pgparquet_sidecar_scheduler_leader 1", `pgparquet_requests{state="succeeded"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// Drain: the export in flight (about 2 s) finishes after SIGTERM.
	pgtest.Exec(t, su, `UPDATE knob SET sleep = 0.001`)
	id = queue(t, aliceDSN, "slow", "slow-finished")
	waitFor(t, su, id, "running", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := p1.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p1.wait(t, 40*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	st = stateOf(t, su, id)
	if st.State != "succeeded" || st.Rows != 4000 {
		t.Errorf("export in flight at SIGTERM: %+v, want it finished", st)
	}
	checkOutput(t, su, root, id, st)
	logs := p1.stderr.String()
	for _, want := range []string{`"msg":"sidecar stopping","sidecar":"p1","running":1`, `"msg":"sidecar stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}

	// Release: an export far from done when the drain timeout passes goes back to the queue.
	pgtest.Exec(t, su, `UPDATE knob SET sleep = 0.01`)
	p2 := startSidecar(t, bin, "p2", nil, "--dsn", dsn, "--output-root", root, "--drain-timeout", "300ms")
	id = queue(t, aliceDSN, "slow", "slow-released")
	waitFor(t, su, id, "running", 10*time.Second)
	stopped := time.Now()
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p2.wait(t, 15*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	t.Logf("p2 exited %s after SIGTERM", time.Since(stopped))
	st = stateOf(t, su, id)
	if st.State != "queued" || st.Attempt != 0 || !strings.Contains(st.Note, "released to the queue by p2 at shutdown") {
		t.Errorf("export in flight at SIGTERM past the drain timeout: %+v", st)
	}
	if p := partialFiles(filepath.Join(root, "alice", "slow-released")); len(p) > 0 {
		t.Errorf("partial files left: %v", p)
	}
}

// TestSidecarKill9 kills a sidecar process (logged in as deploy/roles.sql's pgparquet) with
// SIGKILL while it writes an export (a partial file on disk): the other sidecar takes over scheduling at once, re-runs the request once
// the lease lapses, and the request succeeds on the second attempt with no partial file left.
func TestSidecarKill9(t *testing.T) {
	bin := buildBinary(t)
	dsn, aliceDSN, su := sidecarDB(t, 20000)
	root := t.TempDir()
	pgtest.Exec(t, su, `UPDATE knob SET sleep = 0.001`) // about 10 s for the whole table
	p1 := startSidecar(t, bin, "p1", nil, "--dsn", dsn, "--output-root", root)
	id := queue(t, aliceDSN, "slow", "killed")
	waitFor(t, su, id, "running", 10*time.Second)
	p2 := startSidecar(t, bin, "p2", nil, "--dsn", dsn, "--output-root", root)
	if _, m := p1.get("/metrics"); !strings.Contains(m, "pgparquet_sidecar_scheduler_leader 1") {
		t.Errorf("p1, started first, does not lead scheduling:\n%s", m)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(partialFiles(filepath.Join(root, "alice", "killed"))) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no partial file appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if code := p1.wait(t, 5*time.Second); code != -1 {
		t.Logf("p1 exit code %d", code)
	}
	if st := stateOf(t, su, id); st.State != "running" || st.Sidecar != "p1" {
		t.Fatalf("after kill -9: %+v, want still running on p1 until its lease lapses", st)
	}
	// The lease runs from p1's last heartbeat, which may precede the kill by a heartbeat interval.
	var lastBeat time.Time
	if err := su.QueryRow(context.Background(), `SELECT heartbeat_at FROM parquet_export_requests WHERE id = $1`, id).Scan(&lastBeat); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, su, `UPDATE knob SET sleep = 0`)

	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, m := p2.get("/metrics"); strings.Contains(m, "pgparquet_sidecar_scheduler_leader 1") {
			t.Logf("p2 leads scheduling %s after the kill", time.Since(killed))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("p2 did not take over scheduling")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := waitFor(t, su, id, "succeeded", 30*time.Second)
	var restarted time.Time
	if err := su.QueryRow(context.Background(), `SELECT started_at FROM parquet_export_requests WHERE id = $1`, id).Scan(&restarted); err != nil {
		t.Fatal(err)
	}
	if lapse := restarted.Sub(lastBeat); lapse < 3*time.Second {
		t.Errorf("attempt 2 started %s after p1's last heartbeat, before the 3 s lease lapsed", lapse)
	}
	if st.Sidecar != "p2" || st.Attempt != 2 || st.Rows != 20000 {
		t.Errorf("status %+v, want attempt 2 on p2 with 20000 rows", st)
	}
	checkOutput(t, su, root, id, st)
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p2.wait(t, 15*time.Second); code != 0 {
		t.Errorf("p2 exit code %d after SIGTERM, want 0", code)
	}
}
