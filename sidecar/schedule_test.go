package sidecar

import (
	"context"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestParseCronAgreesWithSQL checks the sidecar's parser and the SQL check of cron specs
// accept and refuse the same specs, so a schedule the database accepted is one the sidecar
// runs.
func TestParseCronAgreesWithSQL(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		spec string
		ok   bool
	}{
		{"* * * * *", true}, {"0 3 * * *", true}, {" 0  3 * * * ", true}, {"*/15 * * * *", true},
		{"0 9-17/2 * * mon-fri", true}, {"5,10,15 0 1 JAN,jul ?", true}, {"0 0 31 12 6", true},
		{"5/20 * * * *", true}, {"0 0 * * SUN", true},
		{"@yearly", true}, {"@annually", true}, {"@monthly", true}, {"@weekly", true},
		{"@daily", true}, {"@midnight", true}, {"@hourly", true},
		{"", false}, {"* * * *", false}, {"0 * * * * *", false}, {"60 * * * *", false},
		{"* 24 * * *", false}, {"* * 0 * *", false}, {"* * 32 * *", false}, {"* * * 13 *", false},
		{"* * * * 7", false}, {"*/0 * * * *", false}, {"5-1 * * * *", false}, {"1-2-3 * * * *", false},
		{"1/2/3 * * * *", false}, {"1,,2 * * * *", false}, {"x * * * *", false}, {"* * * foo *", false},
		{"* * * * mon-", false}, {"/5 * * * *", false}, {", * * * *", false}, {"-1 * * * *", false},
		{"@every 1h", false}, {"@reboot", false}, {"@Daily", false}, {"TZ=UTC 0 3 * * *", false},
		{"CRON_TZ=Europe/Paris 0 3 * * *", false},
	}
	for _, tc := range tests {
		_, goErr := parseCron(tc.spec, "UTC")
		_, sqlErr := e.su.Exec(context.Background(), `SELECT parquet_export_cron_check($1)`, tc.spec)
		if (goErr == nil) != tc.ok || (sqlErr == nil) != tc.ok {
			t.Errorf("spec %q: sidecar says %v, SQL says %v; want ok=%v", tc.spec, goErr, sqlErr, tc.ok)
		}
	}
	if _, err := parseCron("@daily", "Mars/Olympus"); err == nil || !strings.Contains(err.Error(), `time zone "Mars/Olympus"`) {
		t.Errorf("unknown time zone: %v", err)
	}
}

// TestLatestSlot checks the slot a due schedule runs: the latest one up to now (missed ones
// before it are skipped), in the schedule's time zone, DST included (robfig/cron skips a wall
// time that the spring change skips, and runs one that the autumn change repeats twice).
func TestLatestSlot(t *testing.T) {
	utc := time.UTC
	at := func(loc string, y int, mo time.Month, d, h, mi int) time.Time {
		l, err := time.LoadLocation(loc)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(y, mo, d, h, mi, 0, 0, l)
	}
	tests := []struct {
		name, spec, tz string
		after, now     time.Time
		want           time.Time // zero: none due
		wantNext       time.Time // the next slot after now
	}{
		{name: "every minute", spec: "* * * * *", tz: "UTC",
			after: time.Date(2026, 1, 1, 10, 0, 0, 0, utc), now: time.Date(2026, 1, 1, 10, 5, 30, 0, utc),
			want: time.Date(2026, 1, 1, 10, 5, 0, 0, utc), wantNext: time.Date(2026, 1, 1, 10, 6, 0, 0, utc)},
		{name: "not due yet", spec: "0 * * * *", tz: "UTC",
			after: time.Date(2026, 1, 1, 10, 0, 0, 0, utc), now: time.Date(2026, 1, 1, 10, 59, 59, 0, utc),
			wantNext: time.Date(2026, 1, 1, 11, 0, 0, 0, utc)},
		{name: "three hours down: only the latest", spec: "0 * * * *", tz: "UTC",
			after: time.Date(2026, 1, 1, 10, 0, 0, 0, utc), now: time.Date(2026, 1, 1, 13, 10, 0, 0, utc),
			want: time.Date(2026, 1, 1, 13, 0, 0, 0, utc), wantNext: time.Date(2026, 1, 1, 14, 0, 0, 0, utc)},
		{name: "a year down, every minute of one hour", spec: "* 3 * * *", tz: "UTC",
			after: time.Date(2025, 1, 1, 0, 0, 0, 0, utc), now: time.Date(2026, 1, 1, 23, 0, 0, 0, utc),
			want: time.Date(2026, 1, 1, 3, 59, 0, 0, utc), wantNext: time.Date(2026, 1, 2, 3, 0, 0, 0, utc)},
		{name: "time zone with a half hour", spec: "0 3 * * *", tz: "Asia/Kolkata",
			after: time.Date(2026, 1, 1, 0, 0, 0, 0, utc), now: time.Date(2026, 1, 3, 0, 0, 0, 0, utc),
			want: time.Date(2026, 1, 2, 21, 30, 0, 0, utc), wantNext: time.Date(2026, 1, 3, 21, 30, 0, 0, utc)},
		{name: "descriptor in a time zone", spec: "@daily", tz: "America/New_York",
			after: at("America/New_York", 2026, 6, 1, 12, 0), now: at("America/New_York", 2026, 6, 2, 12, 0),
			want: at("America/New_York", 2026, 6, 2, 0, 0), wantNext: at("America/New_York", 2026, 6, 3, 0, 0)},
		{name: "spring forward skips 02:30", spec: "30 2 * * *", tz: "America/New_York",
			after: at("America/New_York", 2026, 3, 7, 12, 0), now: at("America/New_York", 2026, 3, 8, 23, 0),
			wantNext: at("America/New_York", 2026, 3, 9, 2, 30)}, // no 02:30 on the 8th
		{name: "fall back repeats 01:30", spec: "30 1 * * *", tz: "America/New_York",
			after: time.Date(2026, 11, 1, 5, 30, 0, 0, utc), now: time.Date(2026, 11, 1, 7, 0, 0, 0, utc),
			want: time.Date(2026, 11, 1, 6, 30, 0, 0, utc), wantNext: at("America/New_York", 2026, 11, 2, 1, 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sched, err := parseCron(tc.spec, tc.tz)
			if err != nil {
				t.Fatal(err)
			}
			if got := latestSlot(sched, tc.after, tc.now); !got.Equal(tc.want) {
				t.Errorf("latest slot in (%s, %s] = %s, want %s", tc.after, tc.now, got, tc.want)
			}
			if got := sched.Next(tc.now); !got.Equal(tc.wantNext) {
				t.Errorf("next after %s = %s, want %s", tc.now, got, tc.wantNext)
			}
		})
	}
}

// fastClock runs speed times faster than the wall clock from now on, so that minutes of
// schedule pass in seconds of test.
func fastClock(speed int) func() time.Time {
	start := time.Now()
	return func() time.Time { return start.Add(time.Since(start) * time.Duration(speed)) }
}

// scheduled returns the slots of the requests queued for schedule name, in order, and checks
// each ran as the schedule's owner.
func (e *env) scheduled(t *testing.T, name string) (slots []time.Time, ids []int64) {
	t.Helper()
	rows, err := e.su.Query(context.Background(), `SELECT r.id, r.schedule_slot, r.requester = s.owner
		FROM parquet_export_requests r JOIN parquet_export_schedules s ON s.id = r.schedule_id
		WHERE s.name = $1 ORDER BY r.schedule_slot`, name)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	var slot time.Time
	var asOwner bool
	if _, err := pgx.ForEachRow(rows, []any{&id, &slot, &asOwner}, func() error {
		if !asOwner {
			t.Errorf("request %d of schedule %s does not run as the schedule's owner", id, name)
		}
		slots, ids = append(slots, slot), append(ids, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return slots, ids
}

// TestScheduleEveryMinuteTwoSidecars runs a schedule due every minute under two sidecars (on a
// clock 60 times fast): every minute slot becomes exactly one request, none is skipped, each
// runs as the schedule's owner and succeeds, and the schedule records its last and next run.
// A schedule of a role that may not read its table fails like a manual request would.
func TestScheduleEveryMinuteTwoSidecars(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('minutely', '* * * * *', 'items', '{"output_path": "minutely/{slot}"}')`)
	pgtest.Exec(t, bob, `SELECT parquet_export_schedule('forbidden', '* * * * *', 'items')`)
	clock := fastClock(60)
	for _, id := range []string{"a", "b"} {
		e.start(t, id, func(c *Config, h *hooks) { h.now = clock; c.Concurrency = 2 })
	}
	time.Sleep(6 * time.Second)

	slots, ids := e.scheduled(t, "minutely")
	if len(slots) < 4 {
		t.Fatalf("%d slots queued in 6 minutes of schedule: %v", len(slots), slots)
	}
	for i, s := range slots {
		if s.Second() != 0 || s.Nanosecond() != 0 {
			t.Errorf("slot %s is not on a minute", s)
		}
		if i > 0 && !s.Equal(slots[i-1].Add(time.Minute)) {
			t.Errorf("slot %s follows %s: a slot was skipped or repeated", s, slots[i-1])
		}
	}
	for _, id := range ids {
		if st := e.waitState(t, id, "succeeded", 20*time.Second); st.Rows != 100 {
			t.Errorf("request %d: %+v", id, st)
		}
	}
	var lastSlot, nextRun time.Time
	var lastID int64
	if err := e.su.QueryRow(context.Background(), `SELECT last_slot, last_request_id, next_run_at FROM parquet_export_schedules WHERE name = 'minutely'`).
		Scan(&lastSlot, &lastID, &nextRun); err != nil {
		t.Fatal(err)
	}
	if lastSlot.Before(slots[len(slots)-1]) || lastID < ids[len(ids)-1] || !nextRun.After(lastSlot) {
		t.Errorf("schedule: last slot %s (request %d), next run %s; queued up to %s (request %d)", lastSlot, lastID, nextRun, slots[len(slots)-1], ids[len(ids)-1])
	}
	_, forbidden := e.scheduled(t, "forbidden")
	if len(forbidden) == 0 {
		t.Fatal("bob's schedule queued nothing")
	}
	if st := e.waitState(t, forbidden[0], "failed", 10*time.Second); !strings.Contains(st.Error, "permission denied: role bob may not SELECT") {
		t.Errorf("bob's scheduled request: %+v", st)
	}
}

// TestScheduleMissedSlotRunsOnce stops every sidecar for three hours of an hourly schedule:
// the sidecar that starts next queues the latest missed slot once, not the backlog.
func TestScheduleMissedSlotRunsOnce(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 10) g`)
	pgtest.Exec(t, e.req, `SELECT parquet_export_schedule('hourly', '0 * * * *', 'items')`)
	a := e.start(t, "a", nil)
	var next time.Time
	deadline := time.Now().Add(10 * time.Second)
	for next.IsZero() {
		var n *time.Time
		if err := e.su.QueryRow(context.Background(), `SELECT next_run_at FROM parquet_export_schedules`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != nil {
			next = *n
		} else if time.Now().After(deadline) {
			t.Fatal("the sidecar did not compute the next run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.stop()
	if want := time.Now().Truncate(time.Hour).Add(time.Hour); !next.Equal(want) {
		t.Errorf("next run %s, want %s", next, want)
	}

	later := next.Add(2*time.Hour + 10*time.Minute) // slots next, next+1h, next+2h were missed
	e.start(t, "b", func(_ *Config, h *hooks) { h.now = func() time.Time { return later } })
	deadline = time.Now().Add(10 * time.Second)
	for {
		if slots, _ := e.scheduled(t, "hourly"); len(slots) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the missed slot was not queued")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a few more scheduler ticks: nothing more may come
	slots, ids := e.scheduled(t, "hourly")
	if want := []time.Time{next.Add(2 * time.Hour)}; !slices.EqualFunc(slots, want, time.Time.Equal) {
		t.Errorf("slots queued %v, want only the latest missed one %v", slots, want)
	}
	e.waitState(t, ids[0], "succeeded", 10*time.Second)
	var nextRun time.Time
	if err := e.su.QueryRow(context.Background(), `SELECT next_run_at FROM parquet_export_schedules`).Scan(&nextRun); err != nil {
		t.Fatal(err)
	}
	if want := next.Add(3 * time.Hour); !nextRun.Equal(want) {
		t.Errorf("next run %s, want %s", nextRun, want)
	}
}

// TestSchedulerTakeover checks that one sidecar leads scheduling at a time and that the lead
// passes on: at once when the leader stops, within a lease when it hangs (the server ends its
// quiet session), and that the new leader keeps the schedule running.
func TestSchedulerTakeover(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 10) g`)
	clock := fastClock(60)
	tune := func(_ *Config, h *hooks) { h.now = clock }
	a := e.start(t, "a", tune)
	waitLeader(t, a.Sidecar, 5*time.Second)
	b := e.start(t, "b", tune)
	c := e.start(t, "c", tune)
	time.Sleep(time.Second)
	if b.leader.Load() || c.leader.Load() {
		t.Fatal("two sidecars lead at once")
	}

	// The superuser's runs fail (no sidecar serves a superuser): this test counts slots, so the
	// schedule must not disable itself after its failed runs.
	pgtest.Exec(t, e.su, `UPDATE parquet_export_limits SET max_schedule_failures = 1000 WHERE role = '*'`)
	pgtest.Exec(t, e.su, `SELECT parquet_export_schedule('minutely', '* * * * *', 'items')`)
	hung := time.Now()
	a.kill() // alive but silent, as a hung process
	var next *Sidecar
	deadline := time.Now().Add(3*time.Second + 3*time.Second) // lease + slack
	for next == nil {
		switch {
		case b.leader.Load():
			next = b.Sidecar
		case c.leader.Load():
			next = c.Sidecar
		case time.Now().After(deadline):
			t.Fatal("no sidecar took the lead from the hung one within the lease")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s took the lead %s after the leader hung", next.ID(), time.Since(hung))
	queuedBy := func(s *Sidecar) int64 { return s.metrics.scheduled.Load() }
	before := queuedBy(next)
	time.Sleep(2500 * time.Millisecond)
	if queuedBy(next) == before {
		t.Errorf("the new leader %s queued no slot", next.ID())
	}

	stopped, stoppedOnClock := time.Now(), clock()
	for _, r := range []*running{b, c} {
		if r.Sidecar == next {
			r.stop()
		}
	}
	other := c
	if next == c.Sidecar {
		other = b
	}
	waitLeader(t, other.Sidecar, 2*time.Second)
	t.Logf("%s took the lead %s after the leader stopped", other.ID(), time.Since(stopped))
	time.Sleep(2 * time.Second)
	// While the leader hung, slots were missed and only the latest of them ran; across the
	// clean handover none may be missed or repeated.
	slots, _ := e.scheduled(t, "minutely")
	for i := 1; i < len(slots); i++ {
		switch {
		case !slots[i].After(slots[i-1]):
			t.Errorf("slot %s repeated", slots[i])
		case slots[i].After(stoppedOnClock.Add(-time.Minute)) && !slots[i].Equal(slots[i-1].Add(time.Minute)):
			t.Errorf("slot %s follows %s across the handover", slots[i], slots[i-1])
		}
	}
	if last := slots[len(slots)-1]; !last.After(stoppedOnClock) {
		t.Errorf("no slot after the handover: last %s", last)
	}
	a.stop()
}

func waitLeader(t *testing.T, s *Sidecar, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !s.leader.Load() {
		if time.Now().After(deadline) {
			t.Fatalf("sidecar %s did not lead scheduling within %s", s.ID(), within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScheduleErrorMarked puts a spec the sidecar cannot parse into a schedule (bypassing the
// SQL check, as an older or hand-edited row could): the sidecar marks the schedule with the
// error and queues nothing; a corrected spec clears the error and runs.
func TestScheduleErrorMarked(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 10) g`)
	pgtest.Exec(t, e.su, `SELECT parquet_export_schedule('broken', '@daily', 'items')`)
	pgtest.Exec(t, e.su, `SET session_replication_role = replica`) // no triggers: the SQL check is skipped
	pgtest.Exec(t, e.su, `UPDATE parquet_export_schedules SET cron = '61 * * * *'`)
	pgtest.Exec(t, e.su, `SET session_replication_role = origin`)
	e.start(t, "a", nil)
	read := func() (errText string, next *time.Time) {
		var e2 *string
		if err := e.su.QueryRow(context.Background(), `SELECT error, next_run_at FROM parquet_export_schedules`).Scan(&e2, &next); err != nil {
			t.Fatal(err)
		}
		if e2 != nil {
			errText = *e2
		}
		return errText, next
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		errText, next := read()
		if errText != "" {
			if !strings.Contains(errText, `cron spec "61 * * * *"`) || !strings.Contains(errText, "above maximum") || next != nil {
				t.Errorf("schedule error %q, next run %v", errText, next)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sidecar did not mark the bad spec")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pgtest.Exec(t, e.su, `UPDATE parquet_export_schedules SET cron = '0 0 * * *'`)
	deadline = time.Now().Add(10 * time.Second)
	for {
		errText, next := read()
		if errText == "" && next != nil {
			if next.UTC().Hour() != 0 || next.Minute() != 0 {
				t.Errorf("next run %s, want midnight UTC", next)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the fix: error %q, next run %v", errText, next)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScheduleTimezones has the sidecar compute the next run of schedules in several time
// zones and checks each is the first matching wall time there after the schedule started.
func TestScheduleTimezones(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items (id int)`)
	tests := []struct {
		name, cron, tz string
		hour, minute   int // wall time in tz
	}{
		{"utc", "30 2 * * *", "UTC", 2, 30},
		{"kolkata", "30 2 * * *", "Asia/Kolkata", 2, 30},
		{"new-york-daily", "@daily", "America/New_York", 0, 0},
		{"auckland", "15 23 * * *", "Pacific/Auckland", 23, 15},
	}
	for _, tc := range tests {
		pgtest.Exec(t, e.su, `SELECT parquet_export_schedule($1, $2, 'items', '{}', $3)`, tc.name, tc.cron, tc.tz)
	}
	e.start(t, "a", nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.tz)
			if err != nil {
				t.Fatal(err)
			}
			var from time.Time
			var next *time.Time
			deadline := time.Now().Add(10 * time.Second)
			for next == nil {
				if err := e.su.QueryRow(context.Background(), `SELECT slots_from, next_run_at FROM parquet_export_schedules WHERE name = $1`, tc.name).Scan(&from, &next); err != nil {
					t.Fatal(err)
				}
				if next == nil && time.Now().After(deadline) {
					t.Fatal("no next run computed")
				}
				time.Sleep(20 * time.Millisecond)
			}
			f := from.In(loc)
			want := time.Date(f.Year(), f.Month(), f.Day(), tc.hour, tc.minute, 0, 0, loc)
			if !want.After(from) {
				want = time.Date(f.Year(), f.Month(), f.Day()+1, tc.hour, tc.minute, 0, 0, loc)
			}
			if !next.Equal(want) {
				t.Errorf("next run %s, want %s (%s)", next.UTC(), want.UTC(), want)
			}
		})
	}
}
