package control_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// TestScheduleChecks writes schedules as a requester: good ones are stored with their owner
// and a schema-qualified table; a bad cron spec, time zone, option or table is refused with a
// clear error; the owner and slot bookkeeping cannot be forged; and another role's schedule is
// out of reach.
func TestScheduleChecks(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, bob := as("alice"), as("bob")
	su := pgtest.Connect(t, dsn)

	tests := []struct {
		name    string
		sql     string
		wantErr string // empty: accepted
	}{
		{name: "five fields", sql: `SELECT parquet_export_schedule('a1', '0 3 * * *', 't')`},
		{name: "lists ranges steps names", sql: `SELECT parquet_export_schedule('a2', '*/15,7 1-5/2 ? jan-MAR mon-fri', 't')`},
		{name: "descriptor and time zone", sql: `SELECT parquet_export_schedule('a3', '@daily', 't', '{}', 'Europe/Paris')`},
		{name: "plain insert", sql: `INSERT INTO parquet_export_schedules (name, cron, table_name, options) VALUES ('a4', '@hourly', 't', '{"output_path": "t/{slot}"}')`},
		{name: "four fields", sql: `SELECT parquet_export_schedule('b', '0 3 * *', 't')`, wantErr: `cron spec '0 3 * *': 4 fields, want 5`},
		{name: "seconds field", sql: `SELECT parquet_export_schedule('b', '0 0 3 * * *', 't')`, wantErr: "6 fields, want 5"},
		{name: "hour out of range", sql: `SELECT parquet_export_schedule('b', '0 24 * * *', 't')`, wantErr: "hour 24 is out of range 0-23"},
		{name: "day of week 7", sql: `SELECT parquet_export_schedule('b', '0 0 * * 7', 't')`, wantErr: "day of week 7 is out of range 0-6"},
		{name: "zero step", sql: `SELECT parquet_export_schedule('b', '*/0 * * * *', 't')`, wantErr: "must be a positive number"},
		{name: "backward range", sql: `SELECT parquet_export_schedule('b', '0 5-3 * * *', 't')`, wantErr: "starts after it ends"},
		{name: "bad name", sql: `SELECT parquet_export_schedule('b', '0 0 * foo *', 't')`, wantErr: `'foo' is not a valid month value`},
		{name: "every", sql: `SELECT parquet_export_schedule('b', '@every 1h', 't')`, wantErr: "@every is not supported"},
		{name: "unknown descriptor", sql: `SELECT parquet_export_schedule('b', '@fortnightly', 't')`, wantErr: "unknown descriptor"},
		{name: "TZ prefix", sql: `SELECT parquet_export_schedule('b', 'CRON_TZ=UTC 0 3 * * *', 't')`, wantErr: "no TZ= prefix"},
		{name: "empty", sql: `SELECT parquet_export_schedule('b', ' ', 't')`, wantErr: "cron spec is empty"},
		{name: "unknown time zone", sql: `SELECT parquet_export_schedule('b', '@daily', 't', '{}', 'Mars/Olympus')`, wantErr: "unknown time zone 'Mars/Olympus'"},
		{name: "unknown option", sql: `SELECT parquet_export_schedule('b', '@daily', 't', '{"paralel": 2}')`, wantErr: "unknown option(s) paralel"},
		{name: "unknown table", sql: `SELECT parquet_export_schedule('b', '@daily', 'nope')`, wantErr: `relation "nope" does not exist`},
		{name: "forge owner", sql: `INSERT INTO parquet_export_schedules (name, cron, table_name, owner) VALUES ('b', '@daily', 't', 'bob')`, wantErr: "permission denied"},
		{name: "forge next run", sql: `UPDATE parquet_export_schedules SET next_run_at = now() WHERE name = 'a1'`, wantErr: "permission denied"},
		{name: "forge slot", sql: `INSERT INTO parquet_export_requests (table_name, schedule_id, schedule_slot) VALUES ('t', 1, now())`, wantErr: "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.Exec(ctx, tc.sql)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.sql, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: error %v, want %q", tc.sql, err, tc.wantErr)
			}
		})
	}

	var owner, table, tz string
	if err := su.QueryRow(ctx, `SELECT owner, table_name, timezone FROM parquet_export_schedules WHERE name = 'a3'`).Scan(&owner, &table, &tz); err != nil {
		t.Fatal(err)
	}
	if owner != "alice" || table != "public.t" || tz != "Europe/Paris" {
		t.Errorf("schedule a3: owner %s, table %s, timezone %s", owner, table, tz)
	}
	// Bob neither sees nor changes alice's schedules.
	tag, err := bob.Exec(ctx, `UPDATE parquet_export_schedules SET enabled = false`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Errorf("bob disabling alice's schedules: %v rows, %v", tag.RowsAffected(), err)
	}
	// Bob's schedule of the same name is his own; alice's a1 is left as it is.
	pgtest.Exec(t, bob, `SELECT parquet_export_schedule('a1', '@daily', 't')`)
	var aliceCron string
	if err := su.QueryRow(ctx, `SELECT cron FROM parquet_export_schedules WHERE name = 'a1' AND owner = 'alice'`).Scan(&aliceCron); err != nil || aliceCron == "@daily" {
		t.Errorf("alice's a1 after bob's parquet_export_schedule('a1'): cron %q (%v)", aliceCron, err)
	}

	// Changing the spec starts the slots afresh and clears the sidecar's bookkeeping of it.
	pgtest.Exec(t, su, `UPDATE parquet_export_schedules SET next_run_at = now() + interval '1 day', error = 'old', slots_from = now() - interval '1 day' WHERE name = 'a1' AND owner = 'alice'`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('a1', '0 4 * * *', 't')`)
	var next *time.Time
	var errText *string
	var fresh bool
	if err := su.QueryRow(ctx, `SELECT next_run_at, error, slots_from > now() - interval '1 minute' FROM parquet_export_schedules WHERE name = 'a1' AND owner = 'alice'`).Scan(&next, &errText, &fresh); err != nil {
		t.Fatal(err)
	}
	if next != nil || errText != nil || !fresh {
		t.Errorf("after a new spec: next_run_at %v, error %v, slots_from fresh %v", next, errText, fresh)
	}
}

// TestQueueSlot queues schedule slots as the sidecar does: each slot becomes one request of
// the schedule's owner (a repeat or an older slot queues nothing), {slot} in output_path is
// filled in, and a request that cannot be created is recorded on the schedule.
func TestQueueSlot(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice := as("alice")
	su := pgtest.Connect(t, dsn)
	pgtest.Exec(t, su, `GRANT pgparquet_admin TO alice`) // priority is an administrator's option
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('s', '0 * * * *', 't', '{"output_path": "t/{slot}", "priority": 5}')`)
	q := control.Over(su, "")
	read := func() control.Schedule {
		t.Helper()
		all, err := q.EnabledSchedules(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("schedules %+v, %v", all, err)
		}
		return all[0]
	}
	s := read()
	slot := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	first, err := q.QueueSlot(ctx, s, slot, slot.Add(time.Hour))
	if err != nil || !first.Created || first.RequestID == 0 || first.Error != "" {
		t.Fatalf("queue slot: %+v, %v", first, err)
	}
	for _, again := range []time.Time{slot, slot.Add(-time.Hour)} {
		q2, err := q.QueueSlot(ctx, s, again, slot.Add(time.Hour))
		if err != nil || q2.Created {
			t.Errorf("queue slot %s again: %+v, %v", again, q2, err)
		}
	}
	var requester, outputPath string
	var priority int
	var scheduleSlot time.Time
	if err := su.QueryRow(ctx, `SELECT requester, output_path, priority, schedule_slot FROM parquet_export_requests WHERE id = $1`, first.RequestID).
		Scan(&requester, &outputPath, &priority, &scheduleSlot); err != nil {
		t.Fatal(err)
	}
	if requester != "alice" || outputPath != "t/20300102T030000Z" || priority != 5 || !scheduleSlot.Equal(slot) {
		t.Errorf("request: requester %s, output_path %s, priority %d, slot %s", requester, outputPath, priority, scheduleSlot)
	}
	var n int
	if err := alice.QueryRow(ctx, `SELECT count(*) FROM parquet_export_status`).Scan(&n); err != nil || n != 1 {
		t.Errorf("alice sees %d requests (%v), want her scheduled one", n, err)
	}
	s = read()
	if s.LastSlot == nil || !s.LastSlot.Equal(slot) || s.NextRunAt == nil || !s.NextRunAt.Equal(slot.Add(time.Hour)) {
		t.Errorf("after queueing: %+v", s)
	}

	pgtest.Exec(t, su, `DROP TABLE t`)
	failed, err := q.QueueSlot(ctx, s, slot.Add(time.Hour), slot.Add(2*time.Hour))
	if err != nil || failed.Created || !strings.Contains(failed.Error, "slot 2030-01-02T04:00:00Z") {
		t.Fatalf("queue a slot of a dropped table: %+v, %v", failed, err)
	}
	s = read()
	if !strings.Contains(s.Error, failed.Error) || !s.LastSlot.Equal(slot.Add(time.Hour)) || !s.NextRunAt.Equal(slot.Add(2*time.Hour)) {
		t.Errorf("after a failed slot: %+v", s)
	}
}

// TestScheduleNamesPerOwner: two roles may give their schedules the same name, and
// parquet_export_schedule replaces only the caller's own.
func TestScheduleNamesPerOwner(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, bob := as("alice"), as("bob")
	su := pgtest.Connect(t, dsn)
	var a1, b1, a2 int64
	for _, c := range []struct {
		conn *pgx.Conn
		cron string
		id   *int64
	}{{alice, "0 1 * * *", &a1}, {bob, "0 2 * * *", &b1}, {alice, "0 3 * * *", &a2}} {
		if err := c.conn.QueryRow(ctx, `SELECT parquet_export_schedule('nightly', $1, 't')`, c.cron).Scan(c.id); err != nil {
			t.Fatal(err)
		}
	}
	if a1 == b1 || a1 != a2 {
		t.Errorf("schedule ids alice %d, bob %d, alice again %d: want two schedules, alice's replaced", a1, b1, a2)
	}
	rows, err := su.Query(ctx, `SELECT owner || ':' || cron FROM parquet_export_schedules ORDER BY owner`)
	if err != nil {
		t.Fatal(err)
	}
	crons, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(crons) != 2 || crons[0] != "alice:0 3 * * *" || crons[1] != "bob:0 2 * * *" {
		t.Errorf("schedules %v (%v)", crons, err)
	}
}

// TestScheduleTimezoneKept: parquet_export_schedule without a time zone creates a schedule in
// UTC, and leaves the time zone of a schedule it replaces as it was.
func TestScheduleTimezoneKept(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice := as("alice")
	su := pgtest.Connect(t, dsn)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('paris', '0 3 * * *', 't', '{}', 'Europe/Paris')`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('paris', '0 4 * * *', 't')`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('plain', '0 4 * * *', 't')`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('moved', '0 4 * * *', 't', '{}', 'Asia/Tokyo')`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('moved', '0 5 * * *', 't', '{}', 'America/Denver')`)
	for name, want := range map[string]string{"paris": "Europe/Paris 0 4 * * *", "plain": "UTC 0 4 * * *", "moved": "America/Denver 0 5 * * *"} {
		var got string
		if err := su.QueryRow(ctx, `SELECT timezone || ' ' || cron FROM parquet_export_schedules WHERE name = $1`, name).Scan(&got); err != nil || got != want {
			t.Errorf("schedule %s: %q (%v), want %q", name, got, err, want)
		}
	}
}
