package control_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/sql/control"
)

// TestAdminManagesSchedules: a member of the admin role changes, disables and deletes another
// role's schedule (and sees that it did); an ordinary role still reaches only its own.
func TestAdminManagesSchedules(t *testing.T) {
	ctx := context.Background()
	_, as := setupRoles(t)
	alice, bob, carol := as("alice"), as("bob"), as("carol")
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('intern-min', '* * * * *', 't')`)
	for _, tc := range []struct {
		conn *pgx.Conn
		sql  string
		want int64
	}{
		{bob, `UPDATE parquet_export_schedules SET enabled = false WHERE name = 'intern-min'`, 0},
		{carol, `UPDATE parquet_export_schedules SET enabled = false WHERE name = 'intern-min'`, 1},
		{carol, `UPDATE parquet_export_schedules SET cron = '0 3 * * *' WHERE name = 'intern-min'`, 1},
		{bob, `DELETE FROM parquet_export_schedules WHERE name = 'intern-min'`, 0},
		{carol, `DELETE FROM parquet_export_schedules WHERE name = 'intern-min'`, 1},
	} {
		tag, err := tc.conn.Exec(ctx, tc.sql)
		if err != nil || tag.RowsAffected() != tc.want {
			t.Errorf("%s as %s: %d rows (%v), want %d", tc.sql, tc.conn.Config().User, tag.RowsAffected(), err, tc.want)
		}
	}
}

// TestScheduleDisablesItselfAfterFailures: a schedule's runs failing max_schedule_failures
// times in a row (default 5; administrators change it in parquet_export_limits) disable it
// with the reason; a success resets the count, and so does enabling it again.
func TestScheduleDisablesItselfAfterFailures(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, carol := as("alice"), as("carol")
	su := pgtest.Connect(t, dsn)
	var sid int64
	if err := alice.QueryRow(ctx, `SELECT parquet_export_schedule('flaky', '@daily', 't')`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	// run queues one run of the schedule (as the scheduling sidecar does) and ends it in state.
	slot := 0
	run := func(state string) int64 {
		t.Helper()
		slot++
		var id int64
		if err := su.QueryRow(ctx, `INSERT INTO parquet_export_requests (table_name, schedule_id, schedule_slot)
			VALUES ('t', $1, now() + make_interval(days => $2)) RETURNING id`, sid, slot).Scan(&id); err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = $2, error = CASE WHEN $2 = 'failed' THEN 'boom ' || id END,
			finished_at = now() WHERE id = $1`, id, state)
		return id
	}
	schedule := func() (enabled bool, failures int, errText string) {
		t.Helper()
		if err := alice.QueryRow(ctx, `SELECT enabled, failures, coalesce(error, '') FROM parquet_export_schedules WHERE id = $1`, sid).
			Scan(&enabled, &failures, &errText); err != nil {
			t.Fatal(err)
		}
		return
	}
	for range 3 {
		run("failed")
	}
	run("succeeded")
	if enabled, failures, _ := schedule(); !enabled || failures != 0 {
		t.Errorf("after 3 failures and a success: enabled %v, failures %d; want enabled, 0", enabled, failures)
	}
	var last int64
	for range 5 {
		if enabled, _, _ := schedule(); !enabled {
			t.Fatal("disabled before 5 failures in a row")
		}
		last = run("failed")
	}
	enabled, failures, errText := schedule()
	if enabled || failures != 5 || !strings.Contains(errText, "disabled after 5 failed runs in a row") ||
		!strings.Contains(errText, "boom "+itoa(last)) || !strings.Contains(errText, "SET enabled = true WHERE name = 'flaky'") {
		t.Errorf("after 5 failures: enabled %v, failures %d, error %q", enabled, failures, errText)
	}
	pgtest.Exec(t, alice, `UPDATE parquet_export_schedules SET enabled = true WHERE name = 'flaky'`)
	if enabled, failures, errText := schedule(); !enabled || failures != 0 || errText != "" {
		t.Errorf("re-enabled: enabled %v, failures %d, error %q; want enabled, 0, no error", enabled, failures, errText)
	}
	// The limit is an administrator's: 2.
	pgtest.Exec(t, carol, `UPDATE parquet_export_limits SET max_schedule_failures = 2 WHERE role = '*'`)
	if _, err := alice.Exec(ctx, `UPDATE parquet_export_limits SET max_schedule_failures = 100 WHERE role = '*'`); err != nil {
		t.Fatal(err)
	}
	run("failed")
	run("failed")
	if enabled, failures, _ := schedule(); enabled || failures != 2 {
		t.Errorf("limit 2, 2 failures: enabled %v, failures %d; want disabled (alice cannot raise the limit)", enabled, failures)
	}
}

// TestRetry: parquet_export_retry re-queues a failed or cancelled request for its requester or
// an administrator, with one more attempt and the previous error still visible; other roles
// and other states get a clear error.
func TestRetry(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, bob, carol := as("alice"), as("bob"), as("carol")
	su := pgtest.Connect(t, dsn)
	newRequest := func(state string) int64 {
		t.Helper()
		var id int64
		if err := alice.QueryRow(ctx, `SELECT parquet_export('t')`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = $2, attempt = 3, max_attempts = 3, error = 'attempt 3: connection refused',
			finished_at = now(), claimed_by = 'sidecar-1' WHERE id = $1`, id, state)
		return id
	}
	failed, cancelled, succeeded := newRequest("failed"), newRequest("cancelled"), newRequest("succeeded")

	for _, tc := range []struct {
		conn    *pgx.Conn
		id      int64
		wantErr string
	}{
		{bob, failed, "no such request of yours"},
		{alice, succeeded, "only a failed or cancelled request can be retried; it is succeeded"},
		{alice, failed, ""},
		{alice, failed, "it is queued"},
		{carol, cancelled, ""},
	} {
		_, err := tc.conn.Exec(ctx, `SELECT parquet_export_retry($1)`, tc.id)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("retry of %d as %s: %v, want %q", tc.id, tc.conn.Config().User, err, tc.wantErr)
		}
	}
	for _, tc := range []struct {
		id      int64
		retrier string
	}{{failed, "alice"}, {cancelled, "carol"}} {
		var state, errText, note, claimedBy string
		var maxAttempts int
		var finished bool
		if err := su.QueryRow(ctx, `SELECT state, coalesce(error, ''), coalesce(note, ''), coalesce(claimed_by, ''), max_attempts,
			finished_at IS NOT NULL FROM parquet_export_requests WHERE id = $1`, tc.id).
			Scan(&state, &errText, &note, &claimedBy, &maxAttempts, &finished); err != nil {
			t.Fatal(err)
		}
		if state != "queued" || maxAttempts != 4 || errText != "attempt 3: connection refused" || claimedBy != "" || finished ||
			!strings.HasPrefix(note, "retried by "+tc.retrier) {
			t.Errorf("request %d after retry: state %s, max_attempts %d, error %q, note %q, claimed_by %q, finished %v",
				tc.id, state, maxAttempts, errText, note, claimedBy, finished)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestOptionsCheckedAtInsert: bad options of a request or a schedule are refused when written,
// with one line naming the option and what it takes.
func TestOptionsCheckedAtInsert(t *testing.T) {
	ctx := context.Background()
	_, as := setupRoles(t)
	alice := as("alice")
	for _, tc := range []struct {
		name, sql, wantErr string
	}{
		{"good request", `SELECT parquet_export('t', '{"columns": ["b", "a"], "compression": "lz4", "parallel": 2}')`, ""},
		{"compression", `SELECT parquet_export('t', '{"compression": "lzma"}')`, "compression 'lzma' is not one of zstd, snappy, gzip, brotli, lz4, none"},
		{"parallel", `INSERT INTO parquet_export_requests (table_name, parallel) VALUES ('t', 0)`, "parallel 0 is out of range: give 1 to 256"},
		{"max_attempts", `INSERT INTO parquet_export_requests (table_name, max_attempts) VALUES ('t', 101)`, "max_attempts 101 is out of range: give 1 to 100"},
		{"unknown columns", `SELECT parquet_export('t', '{"columns": ["a", "nope", "Nope"]}')`, `columns: nope, "Nope" not in table t (its columns: a, b)`},
		{"column twice", `INSERT INTO parquet_export_requests (table_name, columns) VALUES ('t', '{a,b,a}')`, "columns: a named more than once"},
		{"no columns", `INSERT INTO parquet_export_requests (table_name, columns) VALUES ('t', '{}')`, "columns is empty: leave it out to export every column"},
		{"good schedule", `SELECT parquet_export_schedule('s1', '@daily', 't', '{"columns": ["a"], "compression": "zstd", "parallel": 4}')`, ""},
		{"schedule compression", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"compression": "lzma"}')`, "schedule 's2': compression 'lzma' is not one of"},
		{"schedule parallel type", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"parallel": "four"}')`, `schedule 's2': parallel must be a number, not "four"`},
		{"schedule parallel range", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"parallel": 300}')`, "schedule 's2': parallel 300 is out of range"},
		{"schedule columns", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"columns": ["zz"]}')`, "schedule 's2': columns: zz not in table t (its columns: a, b)"},
		{"schedule columns type", `SELECT parquet_export_schedule('s2', '@daily', 't', '{"columns": "a"}')`, "schedule 's2': columns must be an array of column names"},
		{"schedule options change", `UPDATE parquet_export_schedules SET options = '{"columns": ["b", "zz"]}' WHERE name = 's1'`, "schedule 's1': columns: zz not in table"},
		{"compression level", `SELECT parquet_export('t', '{"compression": "zstd:9"}')`, ""},
		{"compression level by insert", `INSERT INTO parquet_export_requests (table_name, compression) VALUES ('t', 'gzip:9')`, ""},
		{"compression level range", `SELECT parquet_export('t', '{"compression": "zstd:23"}')`, "compression 'zstd:23': levels are zstd:1..22, gzip:1..9, brotli:0..11"},
		{"compression level codec", `SELECT parquet_export('t', '{"compression": "lz4:3"}')`, "compression 'lz4:3': levels are zstd:1..22"},
		{"schedule compression level", `SELECT parquet_export_schedule('s5', '@daily', 't', '{"compression": "brotli:12"}')`, "schedule 's5': compression 'brotli:12': levels are"},
		{"good format", `SELECT parquet_export('t', '{"as_text": ["a"], "numeric": "decimal:38,10", "timestamp": "text", "wide_numeric": "decimal256", "compat": "default", "row_group_size": 1000}')`, ""},
		{"good spark", `SELECT parquet_export('t', '{"compat": "Spark", "numeric": "float64"}')`, ""},
		{"format by insert", `INSERT INTO parquet_export_requests (table_name, format) VALUES ('t', '{"numeric": "float64"}')`, ""},
		{"numeric", `SELECT parquet_export('t', '{"numeric": "decimal"}')`, "numeric 'decimal' is not one of string, float64, decimal:P,S (like decimal:38,10)"},
		{"numeric range", `SELECT parquet_export('t', '{"numeric": "decimal:80,2"}')`, "numeric 'decimal:80,2' is out of range: give decimal:P,S with P 1 to 76 and S 0 to P"},
		{"numeric scale", `SELECT parquet_export('t', '{"numeric": "decimal:10,12"}')`, "numeric 'decimal:10,12' is out of range"},
		{"timestamp", `SELECT parquet_export('t', '{"timestamp": "nanos"}')`, "timestamp 'nanos' is not one of micros, text"},
		{"wide_numeric", `SELECT parquet_export('t', '{"wide_numeric": "float"}')`, "wide_numeric 'float' is not one of string, decimal256"},
		{"compat", `SELECT parquet_export('t', '{"compat": "hive"}')`, "compat 'hive' is not one of default, spark"},
		{"spark decimal256", `SELECT parquet_export('t', '{"compat": "spark", "wide_numeric": "decimal256"}')`, "wide_numeric decimal256 is not read by Spark (compat spark): leave it out"},
		{"spark numeric", `SELECT parquet_export('t', '{"compat": "spark", "numeric": "decimal:40,2"}')`, "numeric 'decimal:40,2' is decimal256, which Spark does not read"},
		{"string option type", `SELECT parquet_export('t', '{"compat": 1}')`, "compat must be a string, not 1"},
		{"row_group_size", `SELECT parquet_export('t', '{"row_group_size": 0}')`, "row_group_size 0 is out of range: give 1 to 16777216 rows (default 122880)"},
		{"row_group_size type", `SELECT parquet_export('t', '{"row_group_size": "big"}')`, `row_group_size must be a number of rows, not "big"`},
		{"as_text type", `SELECT parquet_export('t', '{"as_text": "a"}')`, `as_text must be a list of column names, like ["a", "b"], not "a"`},
		{"as_text column", `SELECT parquet_export('t', '{"as_text": ["zz"]}')`, "as_text: zz not in table t (its columns: a, b)"},
		{"as_text twice", `SELECT parquet_export('t', '{"as_text": ["a", "a"]}')`, "as_text: a named more than once"},
		{"format unknown", `INSERT INTO parquet_export_requests (table_name, format) VALUES ('t', '{"codec": "x"}')`, "unknown format option(s) codec: they are as_text, numeric, timestamp, wide_numeric, compat, row_group_size"},
		{"schedule format", `SELECT parquet_export_schedule('s3', '@daily', 't', '{"as_text": ["b"], "compat": "spark"}')`, ""},
		{"schedule format bad", `SELECT parquet_export_schedule('s4', '@daily', 't', '{"timestamp": "nanos"}')`, "schedule 's4': timestamp 'nanos' is not one of micros, text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.Exec(ctx, tc.sql)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("%s: %v", tc.sql, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("%s: error %v, want %q", tc.sql, err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "\n"):
				t.Errorf("%s: error of several lines: %v", tc.sql, err)
			}
		})
	}
}

// TestStatusViewAndSidecars: the status view stores table_name in one form, shows the options,
// who cancelled (an administrator's cancel is theirs), the schedule, the tasks and the
// heartbeat's age; parquet_export_sidecars shows each sidecar, alive or not, and what it runs.
func TestStatusViewAndSidecars(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, carol := as("alice"), as("carol")
	su := pgtest.Connect(t, dsn)
	var plain, viaFn, sched int64
	if err := alice.QueryRow(ctx, `INSERT INTO parquet_export_requests (table_name, parallel) VALUES ('t', 2) RETURNING id`).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if err := alice.QueryRow(ctx, `SELECT parquet_export('public.t', '{"columns": ["a"], "compression": "lz4"}')`).Scan(&viaFn); err != nil {
		t.Fatal(err)
	}
	var sid int64
	if err := alice.QueryRow(ctx, `SELECT parquet_export_schedule('nightly', '@daily', 't')`).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if err := su.QueryRow(ctx, `INSERT INTO parquet_export_requests (table_name, schedule_id, schedule_slot) VALUES ('t', $1, now()) RETURNING id`, sid).Scan(&sched); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, carol, `SELECT parquet_export_cancel($1)`, plain)
	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = 'succeeded', tasks = 8, tasks_done = 5, finished_at = now() WHERE id = $1`, viaFn)
	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = 'running', claimed_by = 'sc-1', heartbeat_at = now() - interval '42 seconds' WHERE id = $1`, sched)

	type row struct {
		table, options, cancelledBy, schedule string
		tasksDone, tasks                      int
		heartbeatAge                          float64
	}
	read := func(id int64) row {
		t.Helper()
		var r row
		if err := alice.QueryRow(ctx, `SELECT table_name, options::text, coalesce(cancelled_by::text, ''), coalesce(schedule, ''),
			coalesce(tasks_done, -1), coalesce(tasks, -1), coalesce(extract(epoch FROM heartbeat_age), -1)
			FROM parquet_export_status WHERE id = $1`, id).
			Scan(&r.table, &r.options, &r.cancelledBy, &r.schedule, &r.tasksDone, &r.tasks, &r.heartbeatAge); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := read(plain); r.table != "public.t" || r.options != `{"parallel": 2, "max_attempts": 3}` || r.cancelledBy != "carol" || r.heartbeatAge != -1 {
		t.Errorf("request %d: %+v", plain, r)
	}
	if r := read(viaFn); r.table != "public.t" || r.options != `{"columns": ["a"], "compression": "lz4", "max_attempts": 3}` || r.tasksDone != 8 || r.tasks != 8 {
		t.Errorf("request %d: %+v", viaFn, r)
	}
	if r := read(sched); r.schedule != "nightly" || r.heartbeatAge < 42 || r.heartbeatAge > 600 {
		t.Errorf("request %d: %+v", sched, r)
	}

	db := control.Over(su, control.DefaultSchema)
	for _, id := range []string{"sc-1", "sc-2"} {
		if err := db.SidecarStarted(ctx, control.SidecarInfo{ID: id, Role: "pgparquet", Version: "0.1.0", GPU: "no: no NVIDIA driver",
			Host: "h", PID: 7, Lease: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SidecarStopped(ctx, "sc-2"); err != nil {
		t.Fatal(err)
	}
	rows, err := alice.Query(ctx, `SELECT sidecar || ' ' || alive || ' ' || coalesce(running::text, '{}') || ' ' || gpu || ' ' || superuser
		FROM parquet_export_sidecars ORDER BY sidecar`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	want := []string{fmt.Sprintf("sc-1 true {%d} no: no NVIDIA driver false", sched), "sc-2 false {} no: no NVIDIA driver false"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parquet_export_sidecars as alice: %q (%v), want %q", got, err, want)
	}
}

// TestParallelCheckedAgainstSidecars: a request or schedule asking for more workers than any
// live sidecar runs (their --max-parallel) is refused at once; with no live sidecar there is
// nothing to compare with.
func TestParallelCheckedAgainstSidecars(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice := as("alice")
	su := pgtest.Connect(t, dsn)
	db := control.Over(su, control.DefaultSchema)
	try := func(sql, wantErr string) {
		t.Helper()
		_, err := alice.Exec(ctx, sql)
		if (wantErr == "" && err != nil) || (wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr))) {
			t.Errorf("%s: error %v, want %q", sql, err, wantErr)
		}
	}
	try(`SELECT parquet_export('t', '{"parallel": 64}')`, "")
	for _, s := range []control.SidecarInfo{
		{ID: "a", Role: "pgparquet", Version: "test", GPU: "no", Host: "h", PID: 1, Lease: time.Minute, MaxParallel: 8},
		{ID: "b", Role: "pgparquet", Version: "test", GPU: "no", Host: "h", PID: 2, Lease: time.Minute, MaxParallel: 12},
		{ID: "c", Role: "pgparquet", Version: "test", GPU: "no", Host: "h", PID: 3, Lease: time.Minute, MaxParallel: 100},
	} {
		if err := db.SidecarStarted(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SidecarStopped(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	try(`SELECT parquet_export('t', '{"parallel": 12}')`, "")
	try(`SELECT parquet_export('t', '{"parallel": 13}')`, "parallel 13 is more than the sidecars run: give 1 to 12 (their --max-parallel)")
	try(`INSERT INTO parquet_export_requests (table_name, parallel) VALUES ('t', 64)`, "parallel 64 is more than the sidecars run")
	try(`SELECT parquet_export_schedule('p', '@daily', 't', '{"parallel": 20}')`, "schedule 'p': parallel 20 is more than the sidecars run: give 1 to 12")
}
