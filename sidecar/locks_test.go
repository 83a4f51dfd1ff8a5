package sidecar

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// The TestRoleLock tests check that no lock an ordinary role can take may stop the sidecar,
// its scheduler or other roles' exports. Each runs the sidecar as the least-privilege role of
// deploy/roles.sql, has a role take, in an open session or transaction, a lock it may take,
// and states what the sidecar still does meanwhile.

// TestRoleLockAdvisory: carol, who may only connect, holds in a session of her own the
// advisory locks keyed on pgparquet's migrations and scheduling for schema public. A sidecar
// still starts (healthy within 10 s), serves a request and fires a schedule, and carol's locks
// are still held at the end, so nothing of the sidecar waited for them.
func TestRoleLockAdvisory(t *testing.T) {
	e := leastPrivilegeEnv(t)
	carol, alice := e.role(t, "carol"), e.role(t, "alice")
	pgtest.Exec(t, e.su, `SELECT pgparquet_auth.unserve_role('carol')`)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	pgtest.Exec(t, carol, `SELECT pg_advisory_lock(hashtext('pgparquet.migrate'), hashtext('public')),
		pg_advisory_lock(hashtext('pgparquet.schedule'), hashtext('public'))`)

	started := time.Now()
	s := e.start(t, "s1", func(_ *Config, h *hooks) { h.now = fastClock(60) })
	healthyWithin(t, s.Sidecar, 10*time.Second)
	t.Logf("healthy %s after start while carol holds the advisory locks", time.Since(started).Round(time.Millisecond))

	id := insert(t, alice, "items", "")
	if st := e.waitState(t, id, "succeeded", 20*time.Second); st.Rows != 50 {
		t.Errorf("alice's request: %+v, want 50 rows", st)
	}
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('minutely', '* * * * *', 'items')`)
	ids := e.waitScheduled(t, "minutely", 1, 20*time.Second)
	if st := e.waitState(t, ids[0], "succeeded", 20*time.Second); st.Rows != 50 {
		t.Errorf("alice's scheduled request: %+v, want 50 rows", st)
	}
	if held := advisoryLocksOf(t, e.su, carol); held != 2 {
		t.Errorf("carol holds %d advisory locks at the end, want 2: the test did not hold them throughout", held)
	}
}

// TestRoleLockScheduleRow: alice locks her own schedule row (FOR UPDATE in an open
// transaction), either before its next run was computed (as after she created or changed it
// while no sidecar led the scheduling; her schedule is due next new year) or after (it is due
// every minute). Bob's schedule, due every minute of a clock 30 times fast, still fires on
// time: its first slot and every minute after it, none skipped (a scheduler held up for 2 s
// would skip one). Alice's schedule queues nothing while locked and is served again once she
// lets go.
func TestRoleLockScheduleRow(t *testing.T) {
	tests := []struct {
		name      string
		aliceCron string
		lockFirst bool // alice locks her row before any sidecar computed its next run
	}{
		{name: "before next run", aliceCron: "0 0 1 1 *", lockFirst: true},
		{name: "after next run", aliceCron: "* * * * *"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := leastPrivilegeEnv(t)
			alice, bob := e.role(t, "alice"), e.role(t, "bob")
			pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
			pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice, bob`)
			first := e.start(t, "s0", nil) // creates the control tables
			waitHealthy(t, first.Sidecar, true)
			first.stop()
			pgtest.Exec(t, alice, `SELECT parquet_export_schedule('alices', $1, 'items')`, tc.aliceCron)
			pgtest.Exec(t, bob, `SELECT parquet_export_schedule('bobs', '* * * * *', 'items')`)
			var slotsFrom time.Time
			if err := e.su.QueryRow(ctx, `SELECT slots_from FROM parquet_export_schedules WHERE name = 'bobs'`).Scan(&slotsFrom); err != nil {
				t.Fatal(err)
			}
			tune := func(_ *Config, h *hooks) { h.now = fastClock(30) }
			if !tc.lockFirst {
				e.start(t, "s1", tune)
				e.waitNextRun(t, "alices", 10*time.Second)
			}
			tx, err := alice.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck // released below; this covers early returns
			var locked string
			if err := tx.QueryRow(ctx, `SELECT name FROM parquet_export_schedules WHERE name = 'alices' FOR UPDATE`).Scan(&locked); err != nil {
				t.Fatalf("alice locks her schedule: %v", err)
			}
			aliceBefore, _ := e.scheduled(t, "alices")
			bobBefore, _ := e.scheduled(t, "bobs")
			if tc.lockFirst {
				e.start(t, "s1", tune)
			}

			bobIDs := e.waitScheduled(t, "bobs", len(bobBefore)+4, 30*time.Second)
			slots, _ := e.scheduled(t, "bobs")
			if want := slotsFrom.Truncate(time.Minute).Add(time.Minute); !slots[0].Equal(want) {
				t.Errorf("bob's first slot %s, want %s: a slot was skipped", slots[0], want)
			}
			for i := 1; i < len(slots); i++ {
				if !slots[i].Equal(slots[i-1].Add(time.Minute)) {
					t.Errorf("bob's slot %s follows %s: a slot was skipped or repeated", slots[i], slots[i-1])
				}
			}
			for _, id := range bobIDs {
				if st := e.waitState(t, id, "succeeded", 20*time.Second); st.Rows != 50 {
					t.Errorf("bob's scheduled request %d: %+v", id, st)
				}
			}
			aliceLocked, _ := e.scheduled(t, "alices")
			if len(aliceLocked) != len(aliceBefore) {
				t.Errorf("alice's locked schedule queued slots %v while locked", aliceLocked[len(aliceBefore):])
			}
			t.Logf("bob's schedule queued %d consecutive slots from %s, %d of them while alice held her row",
				len(slots), slots[0], len(slots)-len(bobBefore))

			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			next := e.waitNextRun(t, "alices", 20*time.Second)
			if tc.aliceCron == "* * * * *" {
				ids := e.waitScheduled(t, "alices", len(aliceLocked)+1, 20*time.Second)
				if st := e.waitState(t, ids[len(ids)-1], "succeeded", 20*time.Second); st.Rows != 50 {
					t.Errorf("alice's scheduled request once she let go: %+v", st)
				}
			} else if next.Month() != time.January || next.Day() != 1 || next.Hour() != 0 || next.Minute() != 0 {
				t.Errorf("alice's next run %s, want the next new year", next)
			}
		})
	}
}

// TestRoleLockRequestRow: alice locks the row of her own running request (FOR UPDATE in an
// open transaction) on a sidecar that runs two exports at once. Bob's export on the same
// sidecar, held for two leases meanwhile, succeeds in its first attempt: its heartbeats went
// on and its lease was never lost. Once alice lets go, her request ends final, succeeded or
// failed with a one-line error.
func TestRoleLockRequestRow(t *testing.T) {
	ctx := context.Background()
	e := leastPrivilegeEnv(t)
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice, bob`)
	const lease = 3 * time.Second
	// release is closed once alice lets go of her row.
	aliceHeld, release := make(chan struct{}, 1), make(chan time.Time)
	s := e.start(t, "s1", func(c *Config, h *hooks) {
		c.Concurrency, c.Lease = 2, lease
		h.onSnapshot = func(ctx context.Context, req *control.Request) error {
			var until <-chan time.Time
			switch req.Requester {
			case "alice": // held until alice lets go of her row
				select {
				case aliceHeld <- struct{}{}:
				default:
				}
				until = release
			case "bob": // held for two leases while alice's row is locked
				until = time.After(2 * lease)
			default:
				return nil
			}
			select {
			case <-until:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
	})
	waitHealthy(t, s.Sidecar, true)

	aliceID := insert(t, alice, "items", "")
	select {
	case <-aliceHeld:
	case <-time.After(20 * time.Second):
		t.Fatalf("alice's export did not start: %+v", e.status(t, aliceID))
	}
	tx, err := alice.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // released below; this covers early returns
	var state string
	if err := tx.QueryRow(ctx, `SELECT state FROM parquet_export_requests WHERE id = $1 FOR UPDATE`, aliceID).Scan(&state); err != nil || state != "running" {
		t.Fatalf("alice locks her request: state %q, %v; want it running", state, err)
	}

	started := time.Now()
	bobID := insert(t, bob, "items", "")
	st := e.waitState(t, bobID, "succeeded", 40*time.Second)
	t.Logf("bob's export succeeded in %s while alice held her request's row", time.Since(started).Round(time.Millisecond))
	if st.Rows != 50 || st.Attempt != 1 || st.Sidecar != "s1" {
		t.Errorf("bob's request: %+v, want 50 rows in attempt 1 by s1", st)
	}
	var attempts int
	var outcomes, note string
	if err := e.su.QueryRow(ctx, `SELECT count(*), string_agg(coalesce(a.outcome, 'none'), ','), coalesce(min(r.note), '')
		FROM parquet_export_attempts a JOIN parquet_export_requests r ON r.id = a.request_id WHERE a.request_id = $1`, bobID).
		Scan(&attempts, &outcomes, &note); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 || outcomes != "succeeded" || note != "" {
		t.Errorf("bob's attempts: %d (%s), note %q; want one that succeeded and no note: his lease must never be lost", attempts, outcomes, note)
	}
	if time.Since(started) < 2*lease {
		t.Errorf("bob's export ended %s after it was queued, before its hold of two leases", time.Since(started))
	}

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	final := e.waitFinal(t, aliceID, 40*time.Second)
	switch final.State {
	case "succeeded":
		if final.Rows != 50 {
			t.Errorf("alice's request succeeded with %d rows, want 50", final.Rows)
		}
		t.Logf("alice's request succeeded in attempt %d once she let go of its row", final.Attempt)
	case "failed":
		if final.Error == "" || strings.Contains(final.Error, "\n") {
			t.Errorf("alice's request failed with error %q, want one clear line", final.Error)
		}
		t.Logf("alice's request failed in attempt %d once she let go of its row: %s", final.Attempt, final.Error)
	default:
		t.Errorf("alice's request ended %+v, want succeeded or failed", final)
	}
}

// TestRoleLockControlRead: carol, who may only connect, reads the control tables in an open
// transaction (ACCESS SHARE on them) while a second sidecar starts against the up-to-date
// schema. It starts (healthy within 10 s; no migration is due, so it takes no lock) and
// serves a request, and carol's locks are still held.
func TestRoleLockControlRead(t *testing.T) {
	ctx := context.Background()
	e := leastPrivilegeEnv(t)
	carol, alice := e.role(t, "carol"), e.role(t, "alice")
	pgtest.Exec(t, e.su, `SELECT pgparquet_auth.unserve_role('carol')`)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	first := e.start(t, "s1", nil)
	waitHealthy(t, first.Sidecar, true)

	tx, err := carol.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // ends carol's transaction
	for _, table := range []string{"parquet_export_requests", "parquet_export_schedules"} {
		if _, err := tx.Exec(ctx, `SELECT * FROM `+table); err != nil {
			t.Fatalf("carol reads %s: %v", table, err)
		}
	}
	started := time.Now()
	second := e.start(t, "s2", nil)
	healthyWithin(t, second.Sidecar, 10*time.Second)
	t.Logf("the second sidecar is healthy %s after start while carol reads the control tables", time.Since(started).Round(time.Millisecond))
	first.stop()
	id := insert(t, alice, "items", "")
	if st := e.waitState(t, id, "succeeded", 20*time.Second); st.Rows != 50 || st.Sidecar != "s2" {
		t.Errorf("alice's request: %+v, want 50 rows by s2", st)
	}
	var held int
	if err := e.su.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE pid = $1 AND granted AND mode = 'AccessShareLock'
		AND relation IN ('parquet_export_requests'::regclass, 'parquet_export_schedules'::regclass)`, carol.PgConn().PID()).Scan(&held); err != nil {
		t.Fatal(err)
	}
	if held != 2 {
		t.Errorf("carol holds ACCESS SHARE on %d control tables at the end, want 2", held)
	}
}

// healthyWithin fails the test unless s reports healthy within the given time.
func healthyWithin(t *testing.T, s *Sidecar, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		if rec.Code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidecar %s not healthy within %s: %d %s", s.ID(), within, rec.Code, strings.TrimSpace(rec.Body.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitScheduled waits until schedule name queued at least n requests and returns their ids.
func (e *env) waitScheduled(t *testing.T, name string, n int, within time.Duration) []int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		slots, ids := e.scheduled(t, name)
		if len(ids) >= n {
			return ids
		}
		if time.Now().After(deadline) {
			var next *time.Time
			var errText *string
			err := e.su.QueryRow(context.Background(), `SELECT next_run_at, error FROM parquet_export_schedules WHERE name = $1`, name).Scan(&next, &errText)
			t.Fatalf("schedule %s queued %d requests (slots %v) within %s, want %d; next run %v, error %v (%v)",
				name, len(ids), slots, within, n, fmtPtr(next), fmtPtr(errText), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitNextRun waits until schedule name has a next run and returns it.
func (e *env) waitNextRun(t *testing.T, name string, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var next *time.Time
		if err := e.su.QueryRow(context.Background(), `SELECT next_run_at FROM parquet_export_schedules WHERE name = $1`, name).Scan(&next); err != nil {
			t.Fatal(err)
		}
		if next != nil {
			return *next
		}
		if time.Now().After(deadline) {
			t.Fatalf("schedule %s got no next run within %s", name, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFinal waits until request id is succeeded, failed or cancelled and returns its status.
func (e *env) waitFinal(t *testing.T, id int64, within time.Duration) status {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := e.status(t, id)
		switch st.State {
		case "succeeded", "failed", "cancelled":
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %d is %+v after %s, want it final", id, st, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// advisoryLocksOf counts the advisory locks conn's session holds.
func advisoryLocksOf(t *testing.T, su, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := su.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = $1`,
		conn.PgConn().PID()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}
