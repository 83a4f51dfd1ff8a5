package sidecar

import (
	"context"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/sql/control"
)

// TestTwoSidecarsExportEachOnce queues 20 requests for two sidecars: each is exported exactly
// once (one attempt, one set of files), and both sidecars take part.
func TestTwoSidecarsExportEachOnce(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 2000) g`)
	e.start(t, "a", func(c *Config, _ *hooks) { c.Concurrency = 2 })
	e.start(t, "b", func(c *Config, _ *hooks) { c.Concurrency = 2 })
	ids := make([]int64, 20)
	for i := range ids {
		ids[i] = insert(t, e.req, "items", "")
	}
	by := map[string]int{}
	for _, id := range ids {
		st := e.waitState(t, id, "succeeded", 60*time.Second)
		if st.Attempt != 1 || st.Rows != 2000 {
			t.Errorf("request %d: %+v, want one attempt and 2000 rows", id, st)
		}
		e.checkFiles(t, id, st.OutputDir)
		by[st.Sidecar]++
	}
	if by["a"] == 0 || by["b"] == 0 {
		t.Errorf("requests by sidecar %v: both should serve", by)
	}
}

// TestKilledSidecarRequestRerun kills a sidecar mid-export (it stops writing anything, as after
// kill -9, leaving a partial file): once its lease lapses, the other sidecar re-runs the
// request, which succeeds with no partial file left.
func TestKilledSidecarRequestRerun(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 5000) g`)
	held := make(chan struct{})
	a := e.start(t, "a", func(_ *Config, h *hooks) {
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			close(held)
			<-ctx.Done()
			return context.Cause(ctx)
		}
	})
	id := insert(t, e.req, "items", "out")
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("sidecar a did not start the export")
	}
	a.kill()
	a.stop()
	// What a killed attempt leaves: a partial file in its staging directory.
	staging := filepath.Join(e.root, "req", "out", ".pgparquet-attempt-1")
	partial := filepath.Join(staging, "part-00000.parquet")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(partial, []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := e.status(t, id); st.State != "running" || st.Sidecar != "a" {
		t.Fatalf("after the kill: %+v, want still running on a", st)
	}
	killed := time.Now()
	e.start(t, "b", nil)
	st := e.waitState(t, id, "succeeded", 20*time.Second)
	if since := time.Since(killed); since < 3*time.Second {
		t.Errorf("re-run %s after the kill, before the 3 s lease lapsed", since)
	}
	if st.Sidecar != "b" || st.Attempt != 2 || st.Rows != 5000 {
		t.Errorf("status %+v, want attempt 2 on b with 5000 rows", st)
	}
	e.checkFiles(t, id, st.OutputDir)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := os.Stat(staging)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("staging directory of the killed attempt: %v", err)
			break
		}
	}
}

// TestCancelRunning cancels a running export (a view that yields rows slowly): the request is
// cancelled within 2 s and the export's files are removed.
func TestCancelRunning(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN i; END $$`)
	pgtest.Exec(t, e.su, `CREATE VIEW slow_rows AS SELECT slow(g) AS g FROM generate_series(1, 1000000) g`)
	e.start(t, "s1", nil)
	id := insert(t, e.req, "slow_rows", "slow")
	e.waitState(t, id, "running", 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // let rows flow and a heartbeat pass
	start := time.Now()
	var ok bool
	if err := e.su.QueryRow(context.Background(), `SELECT parquet_export_cancel($1)`, id).Scan(&ok); err != nil || !ok {
		t.Fatalf("cancel: %v, %v", ok, err)
	}
	e.waitState(t, id, "cancelled", 2*time.Second)
	t.Logf("cancelled in %s", time.Since(start))
	entries, _ := os.ReadDir(filepath.Join(e.root, "req", "slow"))
	for _, en := range entries {
		t.Errorf("file left after cancellation: %s", en.Name())
	}
}

// TestRestartWhileWaiting restarts PostgreSQL under an idle sidecar, then queues a request: the
// sidecar reconnects, LISTENs again and serves it.
func TestRestartWhileWaiting(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	s := e.start(t, "s1", func(c *Config, _ *hooks) { c.PollInterval = 2 * time.Second })
	waitHealthy(t, s.Sidecar, true)
	if err := shared.Cluster(t).Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.reconnect(t) // the old sessions were terminated by the restart
	id := insert(t, e.req, "items", "")
	st := e.waitState(t, id, "succeeded", 30*time.Second)
	if st.Rows != 100 {
		t.Errorf("status %+v", st)
	}
	waitHealthy(t, s.Sidecar, true)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`pgparquet_sidecar_exports_total{outcome="succeeded"} 1`, `pgparquet_requests{state="succeeded"} 1`, "pgparquet_sidecar_rows_total 100"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, rec.Body)
		}
	}
}

func waitHealthy(t *testing.T, s *Sidecar, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if (rec.Code == 200) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz %d %s", rec.Code, rec.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestShutdownReleases stops a sidecar while it exports: the request goes back to the queue
// with a note, its attempt not counted, and its files removed.
func TestShutdownReleases(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	held := make(chan struct{})
	s := e.start(t, "s1", func(c *Config, h *hooks) {
		c.DrainTimeout = 200 * time.Millisecond
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			close(held)
			<-ctx.Done()
			return context.Cause(ctx)
		}
	})
	id := insert(t, e.req, "items", "out")
	<-held
	s.stop()
	st := e.status(t, id)
	var note string
	if err := e.su.QueryRow(context.Background(), `SELECT note FROM parquet_export_status WHERE id = $1`, id).Scan(&note); err != nil {
		t.Fatal(err)
	}
	if st.State != "queued" || st.Attempt != 0 || !strings.Contains(note, "released to the queue by s1 at shutdown") {
		t.Errorf("after shutdown: %+v, note %q", st, note)
	}
	entries, _ := os.ReadDir(filepath.Join(e.root, "req", "out"))
	for _, en := range entries {
		t.Errorf("file left after shutdown: %s", en.Name())
	}
}

// TestRestartDuringExport restarts PostgreSQL while an export is mid-way (its snapshot taken,
// its connections open): the attempt fails on the lost connections, the request goes back to
// the queue (a connection failure is worth another attempt), and the second attempt succeeds
// once the server is back, with no partial file of the first left.
func TestRestartDuringExport(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 5000) g`)
	held, release := make(chan struct{}), make(chan struct{})
	s := e.start(t, "s1", func(c *Config, h *hooks) {
		c.Lease = 10 * time.Second // the restart must not look like a dead sidecar
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			if req.Attempt == 1 {
				close(held)
				<-release
			}
			return nil
		}
	})
	id := insert(t, e.req, "items", "out")
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the export did not start")
	}
	if err := shared.Cluster(t).Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(release)
	e.reconnect(t) // the old sessions were terminated by the restart
	st := e.waitState(t, id, "succeeded", 30*time.Second)
	var errText string
	if err := e.su.QueryRow(context.Background(), `SELECT coalesce(error, '') FROM parquet_export_requests WHERE id = $1`, id).Scan(&errText); err != nil {
		t.Fatal(err)
	}
	if st.Attempt != 2 || st.Rows != 5000 || st.Sidecar != "s1" || errText != "" {
		t.Errorf("status %+v, error %q; want attempt 2 on s1 with 5000 rows", st, errText)
	}
	e.checkFiles(t, id, st.OutputDir)
	entries, _ := os.ReadDir(filepath.Join(e.root, "req", "out"))
	for _, en := range entries {
		if strings.HasSuffix(en.Name(), ".inprogress") {
			t.Errorf("partial file left: %s", en.Name())
		}
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `pgparquet_sidecar_exports_total{outcome="queued"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %q (the failed first attempt, re-queued):\n%s", want, rec.Body)
	}
}
