package sidecar

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/lakehouse"
)

// chainStatus is a chain's row of parquet_export_chain_status.
type chainStatus struct {
	ID                       int64
	Slot, State, Reason      string
	Retained                 *int64
	LastRun                  int
	LastMode, Schedule, Next string
	OutputDir                string
}

func (e *env) chainStatus(t *testing.T, conn *pgx.Conn, id int64) chainStatus {
	t.Helper()
	var c chainStatus
	var next *time.Time
	err := conn.QueryRow(context.Background(), `SELECT chain, slot, state, coalesce(reason, ''), retained_wal_bytes,
			coalesce(last_run, 0), coalesce(last_run_mode, ''), coalesce(schedule, ''), next_run_at, output_dir
		FROM parquet_export_chain_status WHERE chain = $1`, id).
		Scan(&c.ID, &c.Slot, &c.State, &c.Reason, &c.Retained, &c.LastRun, &c.LastMode, &c.Schedule, &next, &c.OutputDir)
	if err != nil {
		t.Fatalf("chain %d: %v", id, err)
	}
	if next != nil {
		c.Next = next.String()
	}
	c.OutputDir = filepath.Join(e.root, filepath.FromSlash(c.OutputDir))
	return c
}

// chainOf is the chain of request id.
func (e *env) chainOf(t *testing.T, id int64) int64 {
	t.Helper()
	var chain int64
	if err := e.su.QueryRow(context.Background(), `SELECT chain_id FROM parquet_export_requests WHERE id = $1`, id).Scan(&chain); err != nil {
		t.Fatal(err)
	}
	return chain
}

// requestIncremental asks for the next run of conn's chain of table (output_path: its default
// when empty) and returns the request's id.
func requestIncremental(t *testing.T, conn *pgx.Conn, table, opts string) int64 {
	t.Helper()
	var id int64
	if err := conn.QueryRow(context.Background(), `SELECT parquet_export($1, $2::jsonb)`, table, opts).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// runMode is the mode and number of request id's run.
func (e *env) runMode(t *testing.T, id int64) (string, int) {
	t.Helper()
	var mode string
	var run int
	if err := e.su.QueryRow(context.Background(), `SELECT run_mode, chain_run FROM parquet_export_requests WHERE id = $1`, id).Scan(&mode, &run); err != nil {
		t.Fatal(err)
	}
	return mode, run
}

// materialized checks that the chain in dir materializes to table as su reads it now.
func materialized(t *testing.T, su *pgx.Conn, dir, table string) {
	t.Helper()
	ctx := context.Background()
	m, err := incremental.Materialize(ctx, incremental.MaterializeOptions{Input: dir, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromTable(ctx, su, table, "id")
	if err != nil {
		t.Fatal(err)
	}
	for _, reader := range readback.Readers() {
		got, err := readback.FromParquet(ctx, reader, "id", m.File)
		if err != nil {
			t.Fatal(err)
		}
		if d := readback.Diff(want, got, 5); len(d) > 0 {
			t.Fatalf("the chain materialized (read by %s) differs from the table:\n%s", reader, strings.Join(d, "\n"))
		}
	}
}

// changePairs reads (_pgparquet_lsn, _pgparquet_seq) of every change file of the chain in dir
// and fails on a pair in two runs.
func changePairs(t *testing.T, dir string) int {
	t.Helper()
	seen := map[[2]int64]string{}
	runs, _ := filepath.Glob(filepath.Join(dir, "*-changes", "changes-*.parquet"))
	for _, path := range runs {
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		lsnIdx := tbl.Schema().FieldIndices("_pgparquet_lsn")
		seqIdx := tbl.Schema().FieldIndices("_pgparquet_seq")
		if len(lsnIdx) != 1 || len(seqIdx) != 1 {
			t.Fatalf("%s lacks _pgparquet_lsn or _pgparquet_seq", path)
		}
		lsns, seqs := tbl.Column(lsnIdx[0]).Data().Chunks(), tbl.Column(seqIdx[0]).Data().Chunks()
		for c := range lsns {
			l, s := lsns[c].(*array.Int64), seqs[c].(*array.Int64)
			for i := 0; i < l.Len(); i++ {
				k := [2]int64{l.Value(i), s.Value(i)}
				if other, ok := seen[k]; ok && filepath.Dir(other) != filepath.Dir(path) {
					t.Errorf("(lsn %d, seq %d) is in %s and in %s", k[0], k[1], other, path)
				}
				seen[k] = path
			}
		}
		tbl.Release()
		r.Close()
	}
	return len(seen)
}

// TestIncrementalFromSQL runs a chain from psql as a served role, with the sidecar as the
// least-privileged role deploy/roles.sql makes (REPLICATION, the publication through
// pgparquet_auth.publish_table): a snapshot run, change runs (one with no change), the status
// view, the files table, and materialize equal to the table. What cannot work is refused at
// INSERT with one line naming it.
func TestIncrementalFromSQL(t *testing.T) {
	ctx := context.Background()
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int PRIMARY KEY, name text, big text, n numeric)`)
	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, 'n' || g, CASE WHEN g % 10 = 0 THEN repeat(md5(g::text), 400) END, g / 7.0 FROM generate_series(1, 2000) g`)
	pgtest.Exec(t, e.su, `CREATE TABLE nokey (a int); CREATE TABLE guarded (id int PRIMARY KEY, owner name)`)
	pgtest.Exec(t, e.su, `ALTER TABLE guarded ENABLE ROW LEVEL SECURITY; CREATE POLICY mine ON guarded USING (owner = current_user)`)
	pgtest.Exec(t, e.su, `CREATE TABLE hidden (id int PRIMARY KEY, secret text); GRANT SELECT (id) ON hidden TO alice`)
	pgtest.Exec(t, e.su, `CREATE TABLE other (id int PRIMARY KEY)`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items, nokey, guarded, other TO alice`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true)

	first := requestIncremental(t, alice, "items", `{"mode": "incremental", "parallel": 2}`)
	if st := e.waitState(t, first, "succeeded", 20*time.Second); st.Rows != 2000 {
		t.Fatalf("snapshot run: %+v", st)
	}
	if mode, run := e.runMode(t, first); mode != "snapshot" || run != 1 {
		t.Fatalf("first run is %s %d", mode, run)
	}
	chain := e.chainOf(t, first)
	cs := e.chainStatus(t, alice, chain)
	if cs.State != "active" || cs.LastRun != 1 || cs.Retained == nil || !strings.HasPrefix(cs.Slot, "pgparquet_") {
		t.Fatalf("chain after the snapshot: %+v", cs)
	}
	if want := filepath.Join(e.root, "alice", "public.items", "incremental"); cs.OutputDir != want {
		t.Errorf("chain directory %s, want %s", cs.OutputDir, want)
	}
	e.checkFiles(t, first, filepath.Join(cs.OutputDir, "0001-snapshot"))

	pgtest.Exec(t, e.su, `UPDATE items SET name = 'u' || id WHERE id % 3 = 0`)
	pgtest.Exec(t, e.su, `UPDATE items SET n = -n WHERE id % 10 = 0`) // big, TOASTed, unchanged
	pgtest.Exec(t, e.su, `DELETE FROM items WHERE id > 1900`)
	pgtest.Exec(t, e.su, `INSERT INTO items VALUES (5000, 'new', repeat('x', 9000), 1)`)
	second := requestIncremental(t, alice, "items", `{"mode": "incremental"}`)
	st := e.waitState(t, second, "succeeded", 20*time.Second)
	if mode, run := e.runMode(t, second); mode != "changes" || run != 2 {
		t.Fatalf("second run is %s %d", mode, run)
	}
	if want := int64(666 + 200 + 100 + 1); st.Rows != want {
		t.Errorf("change run: %d rows, want %d", st.Rows, want)
	}
	e.checkFiles(t, second, filepath.Join(cs.OutputDir, "0002-changes"))
	// Nothing changed: an empty change set, and the chain moves on.
	third := requestIncremental(t, alice, "items", `{"mode": "incremental"}`)
	if st := e.waitState(t, third, "succeeded", 20*time.Second); st.Rows != 0 {
		t.Errorf("empty change run: %+v", st)
	}
	materialized(t, e.su, cs.OutputDir, "items")
	if cs = e.chainStatus(t, alice, chain); cs.LastRun != 3 || cs.LastMode != "changes" || cs.State != "active" {
		t.Errorf("chain after three runs: %+v", cs)
	}
	var publication bool
	if err := e.su.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_publication_tables WHERE pubname = $1 AND tablename = 'items')`, cs.Slot).Scan(&publication); err != nil || !publication {
		t.Errorf("publication %s of items: %v %v", cs.Slot, publication, err)
	}

	for _, tc := range []struct{ table, opts, want string }{
		{"nokey", `{"mode": "incremental"}`, "public.nokey has no usable REPLICA IDENTITY: add a primary key, or set REPLICA IDENTITY USING INDEX"},
		{"guarded", `{"mode": "incremental"}`, "row-level security of public.guarded applies to role alice, and logical decoding would bypass it"},
		{"hidden", `{"mode": "incremental"}`, "role alice may not read every column of public.hidden"},
		{"items", `{"mode": "incremental", "columns": ["id"], "output_path": "other"}`, "columns: an incremental chain exports every column"},
		{"items", `{"mode": "incremental", "keep_for": "1 day", "output_path": "other"}`, "keep_for: the runs of a chain are kept while the chain lives"},
		{"items", `{"mode": "incremental", "as_text": ["n"], "output_path": "other"}`, "as_text: it cannot be used in mode incremental"},
		{"items", `{"mode": "incremental", "max_retained_wal": "lots", "output_path": "other"}`, `max_retained_wal: "lots" is not a size`},
		{"items", `{"mode": "sometimes"}`, `mode must be "full" or "incremental"`},
		{"items", `{"output_path": "public.items/incremental/x"}`, "already owns that directory, one inside it or one above it"},
		{"other", `{"mode": "incremental", "output_path": "public.items/incremental"}`, "it holds the incremental chain " + fmt.Sprint(chain) + " of table public.items, not of public.other"},
	} {
		_, err := alice.Exec(ctx, `SELECT parquet_export($1, $2::jsonb)`, tc.table, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("parquet_export(%s, %s): %v, want one line containing %q", tc.table, tc.opts, err, tc.want)
		}
	}
	// Another role sees nothing of alice's chain; a run's files may not be deleted alone.
	bob := e.role(t, "bob")
	var n int
	if err := bob.QueryRow(ctx, `SELECT count(*) FROM parquet_export_chain_status`).Scan(&n); err != nil || n != 0 {
		t.Errorf("bob sees %d chains (%v)", n, err)
	}
	if _, err := alice.Exec(ctx, `SELECT parquet_export_delete($1)`, second); err == nil || !strings.Contains(err.Error(), "incremental chain") {
		t.Errorf("deleting a run: %v", err)
	}
	// Ending the chain drops its slot and publication; its files stay.
	var said string
	if err := alice.QueryRow(ctx, `SELECT parquet_export_chain_end($1)`, chain).Scan(&said); err != nil || said != "ending" {
		t.Fatalf("chain end: %q %v", said, err)
	}
	waitChainState(t, e, alice, chain, "dropped", 10*time.Second)
	var slots, pubs int
	if err := e.su.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1), (SELECT count(*) FROM pg_publication WHERE pubname = $1)`, cs.Slot).Scan(&slots, &pubs); err != nil || slots != 0 || pubs != 0 {
		t.Errorf("after the end: %d slots, %d publications (%v)", slots, pubs, err)
	}
	// Asking again starts the chain again, from a snapshot.
	again := requestIncremental(t, alice, "items", `{"mode": "incremental"}`)
	e.waitState(t, again, "succeeded", 20*time.Second)
	if mode, run := e.runMode(t, again); mode != "snapshot" || run != 4 {
		t.Errorf("run after the end is %s %d, want snapshot 4", mode, run)
	}
	materialized(t, e.su, cs.OutputDir, "items")
	endChain(t, e, alice, chain)
}

// endChain ends chain and waits for its slot to be dropped (slots are the cluster's: one left
// behind holds WAL for every other test).
func endChain(t *testing.T, e *env, conn *pgx.Conn, chain int64) {
	t.Helper()
	pgtest.Exec(t, conn, fmt.Sprintf(`SELECT parquet_export_chain_end(%d)`, chain))
	waitChainState(t, e, conn, chain, "dropped", 15*time.Second)
}

func waitChainState(t *testing.T, e *env, conn *pgx.Conn, chain int64, want string, within time.Duration) chainStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		cs := e.chainStatus(t, conn, chain)
		if cs.State == want {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("chain %d is %+v after %s, want %s", chain, cs, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIncrementalSchedule is the whole cycle from psql on the tests' fast clock, with the
// sidecar as deploy/roles.sql's role and the schedule owned by a served role that may read
// the table and nothing more: an incremental schedule makes a snapshot run and change runs
// while the table changes, the chain status view names the schedule and its next run, and
// deleting the schedule ends the chain.
func TestIncrementalSchedule(t *testing.T) {
	ctx := context.Background()
	e := leastPrivilegeReqEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int PRIMARY KEY, v int)`)
	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, g FROM generate_series(1, 500) g; GRANT SELECT ON items TO req`)
	clock := fastClock(60)
	s := e.start(t, "s1", func(_ *Config, h *hooks) { h.now = clock })
	waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled
	pgtest.Exec(t, e.req, `SELECT parquet_export_schedule('nightly', '* * * * *', 'items', '{"mode": "incremental", "max_retained_wal": "1GB"}')`)
	if _, err := e.req.Exec(ctx, `SELECT parquet_export_schedule('bad', '* * * * *', 'items', '{"mode": "incremental", "output_path": "x/{slot}"}')`); err == nil || !strings.Contains(err.Error(), "leave {slot} out") {
		t.Errorf("an incremental schedule with {slot}: %v", err)
	}
	var stop atomic.Bool
	writes := make(chan error, 1)
	go func() {
		conn, err := pgx.Connect(ctx, e.suDSN)
		if err != nil {
			writes <- err
			return
		}
		defer conn.Close(ctx)
		for i := 0; !stop.Load(); i++ {
			if _, err := conn.Exec(ctx, `UPDATE items SET v = v + 1 WHERE id % 50 = $1`, i%50); err != nil {
				writes <- err
				return
			}
			if _, err := conn.Exec(ctx, `INSERT INTO items VALUES ($1, 0)`, 1000+i); err != nil {
				writes <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		writes <- nil
	}()
	ids := e.waitScheduled(t, "nightly", 4, 15*time.Second)
	stop.Store(true)
	if err := <-writes; err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		e.waitState(t, id, "succeeded", 20*time.Second)
		want := "changes"
		if i == 0 {
			want = "snapshot"
		}
		if mode, run := e.runMode(t, id); mode != want || run != i+1 {
			t.Errorf("scheduled run %d is %s %d", i, mode, run)
		}
	}
	chain := e.chainOf(t, ids[0])
	cs := e.chainStatus(t, e.req, chain)
	if cs.Schedule != "nightly" || cs.Next == "" || cs.State != "active" || !strings.Contains(cs.OutputDir, filepath.Join("req", "public.items", "incremental-s")) {
		t.Errorf("chain of the schedule: %+v", cs)
	}
	// The requests after the ones checked may still run: wait for them, then compare.
	pgtest.Exec(t, e.req, `UPDATE parquet_export_schedules SET enabled = false WHERE name = 'nightly'`)
	waitChainState(t, e, e.req, chain, "dropped", 20*time.Second)
	final := requestIncremental(t, e.req, "items", `{"mode": "incremental", "output_path": "final"}`)
	e.waitState(t, final, "succeeded", 20*time.Second)
	var n int
	if err := e.su.QueryRow(ctx, `SELECT count(*) FROM parquet_export_requests WHERE chain_id = $1 AND state NOT IN ('succeeded', 'failed')`, chain).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d runs of the ended chain still pending (%v)", n, err)
	}
	materialized(t, e.su, filepath.Join(e.root, "req", "final"), "items")
	// The ended chain's runs, up to its last, are the table as of its last run's end.
	if changePairs(t, cs.OutputDir) == 0 {
		t.Error("the schedule's change runs hold no change")
	}
	pgtest.Exec(t, e.req, `DELETE FROM parquet_export_schedules WHERE name = 'nightly'`)
	endChain(t, e, e.req, e.chainOf(t, final))
}

// TestRetainedWALCeiling lets an idle chain's slot hold back more WAL than its ceiling: the
// sidecar drops the slot, the status view says why, and the next run starts again from a
// snapshot, after which the chain goes on.
func TestRetainedWALCeiling(t *testing.T) {
	e := leastPrivilegeEnv(t) // the sidecar as deploy/roles.sql's role
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int PRIMARY KEY, v int); CREATE TABLE churn (x text)`)
	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, g FROM generate_series(1, 100) g; GRANT SELECT ON items TO alice`)
	s := e.start(t, "s1", func(c *Config, _ *hooks) { c.MaxRetainedWAL = 64 << 20 })
	waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled
	first := requestIncremental(t, alice, "items", `{"mode": "incremental", "max_retained_wal": "4MB"}`)
	e.waitState(t, first, "succeeded", 20*time.Second)
	chain := e.chainOf(t, first)
	pgtest.Exec(t, e.su, `UPDATE items SET v = 0 WHERE id <= 10`)
	// Other tables' writes: the slot holds their WAL back too.
	pgtest.Exec(t, e.su, `INSERT INTO churn SELECT repeat(md5(g::text), 8) FROM generate_series(1, 40000) g`)
	cs := waitChainState(t, e, alice, chain, "broken", 20*time.Second)
	if !strings.Contains(cs.Reason, "past the ceiling of 4096 kB") || !strings.Contains(cs.Reason, "the next run starts again from a snapshot") {
		t.Errorf("reason %q", cs.Reason)
	}
	if cs.Retained != nil {
		t.Errorf("retained WAL %d after the slot was dropped", *cs.Retained)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := "pgparquet_sidecar_chains_broken_total 1"; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %q", want)
	}
	next := requestIncremental(t, alice, "items", `{"mode": "incremental", "max_retained_wal": "1GB"}`)
	e.waitState(t, next, "succeeded", 20*time.Second)
	if mode, run := e.runMode(t, next); mode != "snapshot" || run != 2 {
		t.Errorf("run after the break is %s %d, want snapshot 2", mode, run)
	}
	pgtest.Exec(t, e.su, `DELETE FROM items WHERE id = 1`)
	last := requestIncremental(t, alice, "items", `{"mode": "incremental", "max_retained_wal": "1GB"}`)
	e.waitState(t, last, "succeeded", 20*time.Second)
	cs = e.chainStatus(t, alice, chain)
	if cs.State != "active" || cs.LastRun != 3 || !strings.Contains(cs.Reason, "past the ceiling") {
		t.Errorf("chain after the restart: %+v", cs)
	}
	materialized(t, e.su, cs.OutputDir, "items")
	// A type change rewrote the table: the run that meets it is a snapshot run, and says why.
	pgtest.Exec(t, e.su, `ALTER TABLE items ALTER v TYPE bigint`)
	rewritten := requestIncremental(t, alice, "items", `{"mode": "incremental"}`)
	e.waitState(t, rewritten, "succeeded", 20*time.Second)
	if mode, run := e.runMode(t, rewritten); mode != "snapshot" || run != 4 {
		t.Errorf("run after ALTER TYPE is %s %d, want snapshot 4", mode, run)
	}
	if cs = e.chainStatus(t, alice, chain); cs.State != "active" || !strings.Contains(cs.Reason, "column v changed type from integer to bigint") {
		t.Errorf("chain after ALTER TYPE: %+v", cs)
	}
	materialized(t, e.su, cs.OutputDir, "items")
	endChain(t, e, alice, chain)
}

// TestIncrementalCrashes kills the sidecar while a change run publishes (recorded publishing,
// not yet in place) and restarts PostgreSQL while another publishes (in place, not yet
// confirmed to the slot), with the sidecar as deploy/roles.sql's role and the chain a served
// role's that may read the table and nothing more: each run is settled once, the chain
// materializes to the table, and no change is in two runs.
func TestIncrementalCrashes(t *testing.T) {
	e := leastPrivilegeReqEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int PRIMARY KEY, v int, s text)`)
	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, g, 's' || g FROM generate_series(1, 1000) g; GRANT SELECT ON items TO req`)
	var publishing atomic.Int32
	restarted := make(chan struct{})
	a := e.start(t, "a", func(c *Config, h *hooks) {
		c.Lease = 10 * time.Second // the restart must not look like a dead sidecar
		h.onPublish = func(s *Sidecar, step string) {
			if step != "publishing" {
				return
			}
			switch publishing.Add(1) {
			case 2:
				// The first change run: the server restarts as the run is being put in place.
				// (A fast shutdown waits for the run's walsender until the run confirms what it
				// streamed, so it restarts in the background.)
				go func() {
					if err := shared.Cluster(t).Restart(context.Background()); err != nil {
						t.Error(err)
					}
					close(restarted)
				}()
			case 3: // the second change run: the sidecar dies before the run is in place
				s.kill()
			}
		}
	})
	waitHealthy(t, a.Sidecar, true) // the control tables exist once it polled
	first := requestIncremental(t, e.req, "items", `{"mode": "incremental"}`)
	e.waitState(t, first, "succeeded", 20*time.Second)
	chain := e.chainOf(t, first)

	pgtest.Exec(t, e.su, `UPDATE items SET v = -v WHERE id <= 100`)
	second := requestIncremental(t, e.req, "items", `{"mode": "incremental"}`)
	select {
	case <-restarted:
	case <-time.After(20 * time.Second):
		t.Fatal("the change run did not reach its publication")
	}
	e.reconnect(t)
	st := e.waitState(t, second, "succeeded", 30*time.Second)
	if st.Rows != 100 {
		t.Errorf("run through the restart: %+v", st)
	}
	pgtest.Exec(t, e.su, `DELETE FROM items WHERE id > 950; INSERT INTO items VALUES (2000, 1, 'x')`)
	third := requestIncremental(t, e.req, "items", `{"mode": "incremental"}`)
	deadline := time.Now().Add(10 * time.Second)
	for !a.killed.Load() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	a.stop()
	if st := e.status(t, third); st.State != "publishing" {
		t.Fatalf("after the kill: %+v, want publishing", st)
	}
	e.start(t, "b", nil)
	st = e.waitState(t, third, "succeeded", 30*time.Second)
	if st.Rows != 51 || st.Attempt != 2 {
		t.Errorf("run after the kill: %+v, want 51 rows in attempt 2", st)
	}
	if mode, run := e.runMode(t, third); mode != "changes" || run != 3 {
		t.Errorf("third run is %s %d", mode, run)
	}
	cs := e.chainStatus(t, e.req, chain)
	materialized(t, e.su, cs.OutputDir, "items")
	if n := changePairs(t, cs.OutputDir); n != 151 {
		t.Errorf("%d changes in the chain's runs, want 151", n)
	}
	if entries, _ := filepath.Glob(filepath.Join(cs.OutputDir, ".partial-*")); len(entries) > 0 {
		t.Errorf("staging left: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(cs.OutputDir, "0004-changes")); err == nil {
		t.Error("a fourth run exists")
	}
	endChain(t, e, e.req, chain)
}

// TestIncrementalIcebergFromSQL runs a chain from SQL that names an Iceberg table: the snapshot
// run overwrites the table, a change run appends its changes to the changelog table, a run
// without changes commits nothing; the requests record their snapshots, and pyiceberg and
// DuckDB read the rows back.
func TestIncrementalIcebergFromSQL(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int PRIMARY KEY, name text)`)
	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true)
	opts := `{"mode": "incremental", "iceberg_table": "alice.items"}`
	first := requestIncremental(t, alice, "items", opts)
	e.waitState(t, first, "succeeded", 30*time.Second)
	pgtest.Exec(t, e.su, `UPDATE items SET name = 'changed' WHERE id <= 5; DELETE FROM items WHERE id = 50`)
	second := requestIncremental(t, alice, "items", opts)
	e.waitState(t, second, "succeeded", 30*time.Second)
	third := requestIncremental(t, alice, "items", opts)
	e.waitState(t, third, "succeeded", 30*time.Second)
	for _, tc := range []struct {
		id       int64
		snapshot bool
	}{{first, true}, {second, true}, {third, false}} {
		if st := e.icebergStatus(t, tc.id); (st.Snapshot != 0) != tc.snapshot || st.Table != "alice.items" {
			t.Errorf("request %d: %+v, want a snapshot: %v", tc.id, st, tc.snapshot)
		}
	}
	var note *string
	if err := e.su.QueryRow(context.Background(), `SELECT note FROM parquet_export_requests WHERE id = $1`, second).Scan(&note); err != nil || note != nil {
		t.Errorf("second run's note %v (%v)", fmtPtr(note), err)
	}
	base := readIceberg(t, e.dsn, "alice.items", []string{"id", "name"}, nil)
	if len(base.PyIceberg.Rows) != 50 || len(base.DuckDB.Rows) != 50 || len(base.PyIceberg.Snapshots) != 1 {
		t.Errorf("alice.items: %d rows (pyiceberg), %d (DuckDB), %d snapshots; want the snapshot run's 50 rows in 1", len(base.PyIceberg.Rows), len(base.DuckDB.Rows), len(base.PyIceberg.Snapshots))
	}
	changes := readIceberg(t, e.dsn, lakehouse.ChangelogTable("alice.items"), []string{"id", "_pgparquet_op", "name"}, nil)
	if len(changes.PyIceberg.Rows) != 6 || len(changes.DuckDB.Rows) != 6 || len(changes.PyIceberg.Snapshots) != 1 {
		t.Errorf("changelog: %d rows (pyiceberg), %d (DuckDB), %d snapshots; want 6 changes in 1", len(changes.PyIceberg.Rows), len(changes.DuckDB.Rows), len(changes.PyIceberg.Snapshots))
	}
	for _, r := range changes.PyIceberg.Rows {
		if op := *r[1]; op != "update" && op != "delete" {
			t.Errorf("change row %s", show(r))
		}
	}
	endChain(t, e, alice, e.chainOf(t, first))
}
