package sidecar

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// deletion is a request's retention columns, read as the superuser.
type deletion struct {
	Requested, Deleted bool
	Reason             string
	FilesLeft          int // files rows not marked deleted
}

func (e *env) deletion(t *testing.T, id int64) deletion {
	t.Helper()
	var d deletion
	if err := e.su.QueryRow(context.Background(), `SELECT delete_requested_at IS NOT NULL, deleted_at IS NOT NULL, coalesce(delete_reason, ''),
			(SELECT count(*) FROM parquet_export_files f WHERE f.request_id = r.id AND f.deleted_at IS NULL)
		FROM parquet_export_status r WHERE id = $1`, id).Scan(&d.Requested, &d.Deleted, &d.Reason, &d.FilesLeft); err != nil {
		t.Fatal(err)
	}
	return d
}

// waitDeleted waits until request id's files are recorded deleted, checks that its directory
// (unless "") is gone from disk and its files rows are marked, and returns the deletion.
func (e *env) waitDeleted(t *testing.T, id int64, dir string, within time.Duration) deletion {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := e.deletion(t, id)
		if d.Deleted {
			if d.FilesLeft != 0 {
				t.Errorf("request %d deleted, but %d files rows are not marked", id, d.FilesLeft)
			}
			if _, err := os.Lstat(dir); dir != "" && !os.IsNotExist(err) {
				t.Errorf("request %d deleted, but its directory %s is still there (%v)", id, dir, err)
			}
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %d not deleted after %s: %+v", id, within, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noDirWithin checks that dir does not exist within the given time (the janitor removes what
// a stopped attempt left at its next pass).
func noDirWithin(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, err := os.Lstat(dir)
		if os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			names := make([]string, len(entries))
			for i, en := range entries {
				names[i] = en.Name()
			}
			t.Errorf("directory %s still there after %s (%v), holding %v", dir, within, err, names)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deletedMetric(t *testing.T, s *Sidecar) string {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "pgparquet_sidecar_deleted_exports_total ") {
			return strings.TrimPrefix(line, "pgparquet_sidecar_deleted_exports_total ")
		}
	}
	t.Fatalf("no pgparquet_sidecar_deleted_exports_total in the metrics:\n%s", rec.Body)
	return ""
}

// TestScheduleKeepsLastRuns runs a schedule with keep 2 (at a clock 60 times fast) until four
// runs succeeded: once it is disabled, only the two newest runs' directories remain on disk,
// with their files; the older runs' directories are gone and their rows and files rows marked
// deleted with the reason. The schedule's keep_for is each run's.
func TestScheduleKeepsLastRuns(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	clock := fastClock(60)
	s := e.start(t, "s1", func(_ *Config, h *hooks) { h.now = clock })
	waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('minutely', '* * * * *', 'items', '{"output_path": "min/{slot}", "keep": 2, "keep_for": "1 day"}')`)
	succeeded := func() []int64 {
		rows, _ := e.su.Query(context.Background(), `SELECT id FROM parquet_export_requests WHERE state = 'succeeded' ORDER BY schedule_slot`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	for deadline := time.Now().Add(30 * time.Second); len(succeeded()) < 4; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs succeeded in 30 s", len(succeeded()))
		}
	}
	pgtest.Exec(t, alice, `UPDATE parquet_export_schedules SET enabled = false WHERE name = 'minutely'`)
	// What was queued before the schedule was disabled runs to its end.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var unfinished int
		if err := e.su.QueryRow(context.Background(), `SELECT count(*) FROM parquet_export_requests WHERE state NOT IN ('succeeded', 'failed', 'cancelled')`).Scan(&unfinished); err != nil {
			t.Fatal(err)
		}
		if unfinished == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs still unfinished", unfinished)
		}
	}
	ids := succeeded()
	keep, expired := ids[len(ids)-2:], ids[:len(ids)-2]
	for _, id := range expired {
		st := e.status(t, id)
		d := e.waitDeleted(t, id, st.OutputDir, 10*time.Second)
		if want := "expired: schedule 'minutely' keeps the files of its newest 2 succeeded runs"; d.Reason != want {
			t.Errorf("request %d: reason %q, want %q", id, d.Reason, want)
		}
	}
	var kept []string
	for _, id := range keep {
		st := e.status(t, id)
		if d := e.deletion(t, id); d.Requested || d.Deleted {
			t.Errorf("request %d, among the newest 2, is marked: %+v", id, d)
		}
		e.checkFiles(t, id, st.OutputDir)
		kept = append(kept, filepath.Base(st.OutputDir))
		var keepFor string
		if err := e.su.QueryRow(context.Background(), `SELECT keep_for::text FROM parquet_export_status WHERE id = $1`, id).Scan(&keepFor); err != nil || keepFor != "1 day" {
			t.Errorf("request %d: keep_for %q (%v), want the schedule's 1 day", id, keepFor, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(e.root, "alice", "min"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, en := range entries {
		onDisk = append(onDisk, en.Name())
	}
	if !slices.Equal(onDisk, kept) {
		t.Errorf("directories on disk %v, want only the newest 2 runs' %v", onDisk, kept)
	}
	if got, want := deletedMetric(t, s.Sidecar), strconv.Itoa(len(expired)); got != want {
		t.Errorf("pgparquet_sidecar_deleted_exports_total %s, want %s", got, want)
	}
}

// TestKeepForExpires: a request with keep_for loses its files that long after it finished; one
// without keeps them.
func TestKeepForExpires(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	waitHealthy(t, e.start(t, "s1", nil).Sidecar, true)
	var short int64
	if err := alice.QueryRow(context.Background(), `SELECT parquet_export('items', '{"keep_for": "2 seconds", "output_path": "short"}')`).Scan(&short); err != nil {
		t.Fatal(err)
	}
	forever := insert(t, alice, "items", "forever")
	st := e.waitState(t, short, "succeeded", 10*time.Second)
	var finished, expires time.Time
	if err := alice.QueryRow(context.Background(), `SELECT finished_at, expires_at FROM parquet_export_status WHERE id = $1`, short).Scan(&finished, &expires); err != nil || !expires.Equal(finished.Add(2*time.Second)) {
		t.Errorf("expires_at %s (%v), want finished_at %s + 2 s", expires, err, finished)
	}
	e.checkFiles(t, short, st.OutputDir)
	d := e.waitDeleted(t, short, st.OutputDir, 10*time.Second)
	if want := "expired: kept for 00:00:02 after it finished"; d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
	if time.Since(finished) < 2*time.Second {
		t.Errorf("deleted %s after it finished, before its keep_for", time.Since(finished))
	}
	fst := e.waitState(t, forever, "succeeded", 10*time.Second)
	time.Sleep(time.Second) // a few janitor passes
	if d := e.deletion(t, forever); d.Requested || d.Deleted {
		t.Errorf("request without keep_for marked: %+v", d)
	}
	e.checkFiles(t, forever, fst.OutputDir)
}

// TestDeleteExport: parquet_export_delete removes an export's files for its requester and for
// an administrator, never for another role; the directory is then free for a new request; a
// file the export did not write stays, and keeps its directory.
func TestDeleteExport(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice, bob, carol := e.role(t, "alice"), e.role(t, "bob"), e.role(t, "carol")
	pgtest.Exec(t, e.su, `GRANT pgparquet_admin TO carol`)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice, bob`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true)
	aliceID, aliceStray, bobID := insert(t, alice, "items", "mine"), insert(t, alice, "items", "stray"), insert(t, bob, "items", "his")
	aliceSt := e.waitState(t, aliceID, "succeeded", 10*time.Second)
	straySt := e.waitState(t, aliceStray, "succeeded", 10*time.Second)
	bobSt := e.waitState(t, bobID, "succeeded", 10*time.Second)
	del := func(conn *pgx.Conn, id int64) (string, error) {
		var got string
		err := conn.QueryRow(context.Background(), `SELECT parquet_export_delete($1)`, id).Scan(&got)
		return got, err
	}

	if got, err := del(bob, aliceID); err == nil || !strings.Contains(err.Error(), "no such request of yours") {
		t.Errorf("bob deleting alice's export: %q, %v", got, err)
	}
	time.Sleep(700 * time.Millisecond) // a janitor pass
	e.checkFiles(t, aliceID, aliceSt.OutputDir)
	if _, err := alice.Exec(context.Background(), `INSERT INTO parquet_export_requests (table_name, output_path) VALUES ('items', 'mine')`); err == nil ||
		!strings.Contains(err.Error(), "already owns that directory") {
		t.Errorf("a second request into the export's directory: %v", err)
	}

	if got, err := del(alice, aliceID); err != nil || got != "deleting" {
		t.Fatalf("alice deleting her export: %q, %v", got, err)
	}
	if d := e.waitDeleted(t, aliceID, aliceSt.OutputDir, 5*time.Second); d.Reason != "deleted by alice" {
		t.Errorf("reason %q", d.Reason)
	}
	if got, err := del(carol, bobID); err != nil || got != "deleting" {
		t.Fatalf("carol (admin) deleting bob's export: %q, %v", got, err)
	}
	if d := e.waitDeleted(t, bobID, bobSt.OutputDir, 5*time.Second); d.Reason != "deleted by carol" {
		t.Errorf("reason %q", d.Reason)
	}

	// A file that is not the export's stays, with its directory.
	notes := filepath.Join(straySt.OutputDir, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := del(alice, aliceStray); err != nil {
		t.Fatal(err)
	}
	e.waitDeleted(t, aliceStray, "", 5*time.Second)
	entries, err := os.ReadDir(straySt.OutputDir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "notes.txt" {
		t.Errorf("after deleting an export beside a file of another's: %v (%v), want notes.txt alone", entries, err)
	}

	// The directory is free again, and the row may go.
	again := insert(t, alice, "items", "mine")
	e.checkFiles(t, again, e.waitState(t, again, "succeeded", 10*time.Second).OutputDir)
	for _, tc := range []struct {
		conn *pgx.Conn
		id   int64
	}{{alice, aliceID}, {carol, bobID}} {
		if tag, err := tc.conn.Exec(context.Background(), `DELETE FROM parquet_export_requests WHERE id = $1`, tc.id); err != nil || tag.RowsAffected() != 1 {
			t.Errorf("DELETE request %d as %s: %v, %v", tc.id, tc.conn.Config().User, tag, err)
		}
	}
	if got := deletedMetric(t, s.Sidecar); got != "3" {
		t.Errorf("pgparquet_sidecar_deleted_exports_total %s, want 3", got)
	}
}

// TestHalfDeletionFinished: a deletion cut off half-way (the manifest and a file removed, the
// row not yet marked, as after a crash) is finished by the next janitor pass, by exactly one of
// two sidecars.
func TestHalfDeletionFinished(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 200000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	first := e.start(t, "first", nil)
	waitHealthy(t, first.Sidecar, true)
	id := insert(t, alice, "items", "half")
	st := e.waitState(t, id, "succeeded", 30*time.Second)
	first.stop()
	var files []string
	rows, _ := e.su.Query(context.Background(), `SELECT path FROM parquet_export_files WHERE request_id = $1 ORDER BY path`, id)
	files, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(files) < 2 {
		t.Fatalf("files %v (%v): want at least two", files, err)
	}
	// The crash: the deletion was asked, the manifest and the first file removed, no more.
	pgtest.Exec(t, alice, `SELECT parquet_export_delete($1)`, id)
	for _, f := range []string{filepath.Join(st.OutputDir, export.ManifestName), filepath.Join(e.root, filepath.FromSlash(files[0]))} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	a, b := e.start(t, "a", nil), e.start(t, "b", nil)
	e.waitDeleted(t, id, st.OutputDir, 10*time.Second)
	time.Sleep(time.Second) // both janitors passed again
	if got := [2]string{deletedMetric(t, a.Sidecar), deletedMetric(t, b.Sidecar)}; got != [2]string{"1", "0"} && got != [2]string{"0", "1"} {
		t.Errorf("deleted by a and b: %v, want one deletion", got)
	}
}

// TestStoppedRequestsLeaveNoDirectory: a failed request, a cancelled one (while running, and
// while queued after its sidecar died mid-export) and one released at shutdown then cancelled
// leave no directory of theirs behind.
func TestStoppedRequestsLeaveNoDirectory(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `CREATE TABLE secret AS SELECT g AS id FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN i; END $$`)
	pgtest.Exec(t, e.su, `CREATE VIEW slow_rows AS SELECT slow(g) AS g FROM generate_series(1, 1000000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items, slow_rows TO alice`)
	cancel := func(id int64) {
		t.Helper()
		var ok bool
		if err := alice.QueryRow(context.Background(), `SELECT parquet_export_cancel($1)`, id).Scan(&ok); err != nil || !ok {
			t.Fatalf("cancel %d: %v, %v", id, ok, err)
		}
	}
	// Held: the export waits after its snapshot until its context ends.
	held := make(chan int64, 4)
	hold := func(_ *Config, h *hooks) {
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			if req.TableName == "public.items" && req.OutputPath != "" && strings.HasPrefix(req.OutputPath, "held") {
				held <- req.ID
				<-ctx.Done()
				return context.Cause(ctx)
			}
			return nil
		}
	}

	// Released at shutdown, then cancelled while queued.
	s1 := e.start(t, "s1", func(c *Config, h *hooks) { c.DrainTimeout = 100 * time.Millisecond; hold(c, h) })
	waitHealthy(t, s1.Sidecar, true)
	released := insert(t, alice, "items", "held/released")
	<-held
	s1.stop()
	if st := e.status(t, released); st.State != "queued" {
		t.Fatalf("after shutdown: %+v", st)
	}
	cancel(released)

	// Killed mid-export, re-queued once its lease lapsed (and not claimed again: alice's other
	// request takes her one running export), then cancelled while queued.
	s2 := e.start(t, "s2", hold)
	stale := insert(t, alice, "items", "held/stale")
	<-held
	s2.kill()
	s2.stop()
	// What a killed attempt leaves: a partial file in its staging directory.
	staging := filepath.Join(e.root, "alice", "held", "stale", ".pgparquet-attempt-1")
	if err := os.MkdirAll(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staging, "part-00000.parquet"), []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	blocker := insert(t, alice, "items", "held/blocker")
	s3 := e.start(t, "s3", func(c *Config, h *hooks) { c.Concurrency = 2; hold(c, h) })
	if id := <-held; id != blocker {
		t.Fatalf("request %d held, want %d", id, blocker)
	}
	pgtest.Exec(t, e.su, `UPDATE parquet_export_limits SET max_running = 1 WHERE role = '*'`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var cleaned bool
		if err := e.su.QueryRow(context.Background(), `SELECT r.state = 'queued' AND a.cleaned_at IS NOT NULL
			FROM parquet_export_requests r JOIN parquet_export_attempts a ON a.request_id = r.id WHERE r.id = $1`, stale).Scan(&cleaned); err != nil {
			t.Fatal(err)
		}
		if cleaned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed sidecar's request was not re-queued and its attempt cleaned: %+v", e.status(t, stale))
		}
	}
	// Queued again, it has no directory until its next attempt.
	noDirWithin(t, filepath.Join(e.root, "alice", "held", "stale"), time.Second)
	cancel(stale)
	cancel(blocker)
	e.waitState(t, blocker, "cancelled", 5*time.Second)
	pgtest.Exec(t, e.su, `UPDATE parquet_export_limits SET max_running = 4 WHERE role = '*'`)
	failed := insert(t, alice, "secret", "")
	running := insert(t, alice, "slow_rows", "deep/slow")
	e.waitState(t, running, "running", 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // rows flow, a file is written
	cancel(running)
	e.waitState(t, running, "cancelled", 5*time.Second)
	fst := e.waitState(t, failed, "failed", 10*time.Second)
	if fst.OutputDir == "" {
		t.Fatal("the failed request has no output_dir")
	}
	for _, dir := range []string{filepath.Join(e.root, "alice", "held", "released"), filepath.Join(e.root, "alice", "held", "stale"),
		filepath.Join(e.root, "alice", "held", "blocker"), fst.OutputDir, filepath.Join(e.root, "alice", "deep", "slow")} {
		noDirWithin(t, dir, 3*time.Second)
	}
	s3.stop()
}
