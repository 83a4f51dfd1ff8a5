package control_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/sql/control"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

func dbName(t testing.TB, dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// TestMigrateConcurrentAndIdempotent starts four migrations of one schema at once: exactly one
// applies the migrations, and a later run applies nothing.
func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	migs, err := control.Migrations()
	if err != nil || len(migs) == 0 || migs[0].Version != 1 {
		t.Fatalf("migrations %v, %v", migs, err)
	}
	for _, schema := range []string{"", "Ctl Schema"} {
		t.Run(fmt.Sprintf("schema %q", schema), func(t *testing.T) {
			var wg sync.WaitGroup
			results := make([][]int, 4)
			errs := make([]error, 4)
			for i := range results {
				conn := pgtest.Connect(t, dsn)
				wg.Go(func() {
					results[i], errs[i] = control.Migrate(ctx, conn, control.MigrateOptions{Schema: schema})
				})
			}
			wg.Wait()
			applied := 0
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("migrate %d: %v", i, errs[i])
				}
				if len(results[i]) > 0 {
					applied++
					if len(results[i]) != len(migs) {
						t.Errorf("migrate %d applied %v, want all %d", i, results[i], len(migs))
					}
				}
			}
			if applied != 1 {
				t.Errorf("%d migrations applied the files, want 1: %v", applied, results)
			}
			again, err := control.Migrate(ctx, pgtest.Connect(t, dsn), control.MigrateOptions{Schema: schema})
			if err != nil || len(again) != 0 {
				t.Errorf("second migrate: applied %v, err %v", again, err)
			}
			q := control.Over(nil, schema)
			var n int
			if err := pgtest.Connect(t, dsn).QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{q.Schema()}.Sanitize()+`.parquet_export_migrations`).Scan(&n); err != nil || n != len(migs) {
				t.Errorf("migrations table holds %d rows (%v), want %d", n, err, len(migs))
			}
		})
	}
}

// setupRoles migrates a fresh database and creates alice and bob (requesters) and carol (a
// member of the admin role), each with password "pw", and a table t.
func setupRoles(t *testing.T) (dsn string, as func(user string) *pgx.Conn) {
	t.Helper()
	dsn = shared.NewDB(t)
	admin := pgtest.Connect(t, dsn)
	if _, err := control.Migrate(context.Background(), admin, control.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	db := dbName(t, dsn)
	for _, r := range []string{"alice", "bob", "carol"} {
		pgtest.Exec(t, admin, `DROP ROLE IF EXISTS `+r)
		pgtest.Exec(t, admin, `CREATE ROLE `+r+` LOGIN PASSWORD 'pw'`)
	}
	pgtest.Exec(t, admin, `DO $$ BEGIN CREATE ROLE pgparquet_admin NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	pgtest.Exec(t, admin, `GRANT pgparquet_admin TO carol`)
	pgtest.Exec(t, admin, `CREATE TABLE t (a int, b text)`)
	return dsn, func(user string) *pgx.Conn { return pgtest.Connect(t, shared.Cluster(t).DSNAs(db, user, "pw")) }
}

// TestRequestSecurity checks what requesters can and cannot do to the control tables.
func TestRequestSecurity(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, bob, carol := as("alice"), as("bob"), as("carol")
	pgtest.Exec(t, alice, `INSERT INTO parquet_export_requests (table_name) VALUES ('t')`)
	var aliceID, fnID int64
	if err := alice.QueryRow(ctx, `SELECT max(id) FROM parquet_export_requests`).Scan(&aliceID); err != nil {
		t.Fatal(err)
	}
	if err := bob.QueryRow(ctx, `SELECT parquet_export('public.t', '{"columns": ["b", "a"], "parallel": 2, "output_path": "x/y"}')`).Scan(&fnID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		conn    *pgx.Conn
		sql     string
		wantErr string
	}{
		{name: "forge requester", conn: alice, sql: `INSERT INTO parquet_export_requests (table_name, requester) VALUES ('t', 'bob')`, wantErr: "permission denied"},
		{name: "forge state", conn: alice, sql: `INSERT INTO parquet_export_requests (table_name, state) VALUES ('t', 'succeeded')`, wantErr: "permission denied"},
		{name: "set state", conn: alice, sql: fmt.Sprintf(`UPDATE parquet_export_requests SET state = 'succeeded' WHERE id = %d`, aliceID), wantErr: "permission denied"},
		{name: "injection-shaped name", conn: alice, sql: `INSERT INTO parquet_export_requests (table_name) VALUES ('t; DROP TABLE t')`, wantErr: "invalid name syntax"},
		{name: "unknown table", conn: alice, sql: `INSERT INTO parquet_export_requests (table_name) VALUES ('nope')`, wantErr: `relation "nope" does not exist`},
		{name: "unknown option", conn: alice, sql: `SELECT parquet_export('t', '{"paralel": 2}')`, wantErr: "unknown option(s) paralel"},
		{name: "bad compression", conn: alice, sql: `SELECT parquet_export('t', '{"compression": "lzma"}')`, wantErr: "compression 'lzma' is not one of zstd, snappy, gzip, brotli, lz4, none"},
		{name: "delete a queued request", conn: alice, sql: `DELETE FROM parquet_export_requests`, wantErr: "it is queued; cancel it first"},
		{name: "delete files rows", conn: alice, sql: `DELETE FROM parquet_export_files`, wantErr: "permission denied"},
		{name: "mark deleted", conn: alice, sql: `UPDATE parquet_export_requests SET deleted_at = now()`, wantErr: "permission denied"},
		{name: "write files", conn: alice, sql: fmt.Sprintf(`INSERT INTO parquet_export_files VALUES (%d, 'f', 1, 1, 'x')`, aliceID), wantErr: "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.conn.Exec(ctx, tc.sql)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.sql, err, tc.wantErr)
			}
		})
	}

	visible := func(conn *pgx.Conn) []int64 {
		rows, _ := conn.Query(ctx, `SELECT id FROM parquet_export_status ORDER BY id`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := visible(alice); !slices.Equal(got, []int64{aliceID}) {
		t.Errorf("alice sees %v, want her own %d", got, aliceID)
	}
	if got := visible(bob); !slices.Equal(got, []int64{fnID}) {
		t.Errorf("bob sees %v, want his own %d", got, fnID)
	}
	if got := visible(carol); !slices.Equal(got, []int64{aliceID, fnID}) {
		t.Errorf("admin carol sees %v, want both", got)
	}

	var requester, state string
	var cols []string
	var parallel int
	su := pgtest.Connect(t, dsn)
	if err := su.QueryRow(ctx, `SELECT requester, state, columns, parallel FROM parquet_export_requests WHERE id = $1`, fnID).Scan(&requester, &state, &cols, &parallel); err != nil {
		t.Fatal(err)
	}
	if requester != "bob" || state != "queued" || !slices.Equal(cols, []string{"b", "a"}) || parallel != 2 {
		t.Errorf("parquet_export stored requester %s, state %s, columns %v, parallel %d", requester, state, cols, parallel)
	}

	var ok bool
	if err := bob.QueryRow(ctx, `SELECT parquet_export_cancel($1)`, aliceID).Scan(&ok); err != nil || ok {
		t.Errorf("bob cancelling alice's request: %v, %v; want false", ok, err)
	}
	if err := alice.QueryRow(ctx, `SELECT parquet_export_cancel($1)`, aliceID).Scan(&ok); err != nil || !ok {
		t.Errorf("alice cancelling her request: %v, %v; want true", ok, err)
	}
	if err := alice.QueryRow(ctx, `SELECT state FROM parquet_export_status WHERE id = $1`, aliceID).Scan(&state); err != nil || state != "cancelled" {
		t.Errorf("cancelled queued request is %q (%v)", state, err)
	}
	if err := alice.QueryRow(ctx, `SELECT parquet_export_cancel($1)`, aliceID).Scan(&ok); err != nil || ok {
		t.Errorf("cancelling twice: %v, %v; want false", ok, err)
	}
}

// TestNotify checks the NOTIFY of a new request and of a running request's cancellation.
func TestNotify(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	su := pgtest.Connect(t, dsn)
	if _, err := control.Migrate(ctx, su, control.MigrateOptions{Schema: "ctl"}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, su, `CREATE TABLE t (a int)`)
	q := control.Over(su, "ctl")
	listener := pgtest.Connect(t, dsn)
	pgtest.Exec(t, listener, `LISTEN `+pgx.Identifier{q.Channel()}.Sanitize())
	wait := func(want string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil || n.Payload != want {
			t.Fatalf("notification %+v, %v; want %q", n, err, want)
		}
	}
	var id int64
	if err := su.QueryRow(ctx, `SELECT ctl.parquet_export('t')`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	wait(fmt.Sprintf("new %d", id))
	req, err := q.Claim(ctx, "s1")
	if err != nil || req == nil || req.ID != id || req.Relation != "public.t" || req.Requester != "postgres" {
		t.Fatalf("claim: %+v, %v", req, err)
	}
	pgtest.Exec(t, su, `SELECT ctl.parquet_export_cancel($1)`, id)
	wait(fmt.Sprintf("cancel %d", id))
	cancel, err := q.Heartbeat(ctx, req.Lease, nil)
	if err != nil || !cancel {
		t.Errorf("heartbeat after cancel: %v, %v", cancel, err)
	}
}

// TestClaimLeases claims 20 requests from four connections at once (each claimed once), then
// lets one lease lapse and checks it is re-queued, the old lease refused, and finally failed
// once its attempts are used.
func TestClaimLeases(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	su := pgtest.Connect(t, dsn)
	if _, err := control.Migrate(ctx, su, control.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, su, `CREATE TABLE t (a int)`)
	pgtest.Exec(t, su, `UPDATE parquet_export_limits SET max_running = NULL WHERE role = '*'`) // one requester, claimed 20 times at once
	pgtest.Exec(t, su, `INSERT INTO parquet_export_requests (table_name, max_attempts) SELECT 't', 2 FROM generate_series(1, 20)`)
	q := control.Over(su, "")
	var mu sync.Mutex
	claimed := map[int64]string{}
	var wg sync.WaitGroup
	for i := range 4 {
		conn := pgtest.Connect(t, dsn)
		name := fmt.Sprintf("s%d", i)
		wg.Go(func() {
			for {
				req, err := control.Over(conn, "").Claim(ctx, name)
				if err != nil {
					t.Error(err)
					return
				}
				if req == nil {
					return
				}
				mu.Lock()
				if prev, dup := claimed[req.ID]; dup {
					t.Errorf("request %d claimed by %s and %s", req.ID, prev, name)
				}
				claimed[req.ID] = name
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != 20 {
		t.Fatalf("%d requests claimed, want 20", len(claimed))
	}

	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = 'succeeded' WHERE id > (SELECT min(id) FROM parquet_export_requests)`)
	var id int64
	if err := su.QueryRow(ctx, `SELECT min(id) FROM parquet_export_requests`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	old := control.Lease{ID: id, Sidecar: claimed[id], Fence: 1, Attempt: 1}
	if _, err := q.Heartbeat(ctx, old, &outcome.Progress{Rows: 5, EstimatedRows: -1}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET heartbeat_at = now() - interval '1 minute' WHERE id = $1`, id)
	stale, err := q.RequeueStale(ctx, 30*time.Second)
	if err != nil || len(stale) != 1 || stale[0].State != "queued" || stale[0].Sidecar != old.Sidecar {
		t.Fatalf("requeue: %+v, %v", stale, err)
	}
	if _, err := q.Heartbeat(ctx, old, nil); !errors.Is(err, control.ErrLeaseLost) {
		t.Errorf("heartbeat under the lapsed lease: %v, want ErrLeaseLost", err)
	}
	if err := q.Publishing(ctx, old, "", "", &outcome.Result{}); !errors.Is(err, control.ErrLeaseLost) {
		t.Errorf("publish under the lapsed lease: %v, want ErrLeaseLost", err)
	}
	req, err := q.Claim(ctx, "again")
	if err != nil || req == nil || req.ID != id || req.Attempt != 2 {
		t.Fatalf("reclaim: %+v, %v", req, err)
	}
	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET heartbeat_at = now() - interval '1 minute' WHERE id = $1`, id)
	stale, err = q.RequeueStale(ctx, 30*time.Second)
	if err != nil || len(stale) != 1 || stale[0].State != "failed" {
		t.Fatalf("requeue after the last attempt: %+v, %v", stale, err)
	}
	var errText string
	if err := su.QueryRow(ctx, `SELECT error FROM parquet_export_status WHERE id = $1`, id).Scan(&errText); err != nil || !strings.Contains(errText, "stopped heartbeating during the last attempt (2 of 2)") {
		t.Errorf("error %q (%v)", errText, err)
	}
}

// TestInvokerViews: the status views read the control tables as the role that reads them. On
// 15 and later they are security_invoker views; on 13 and 14 (make test-matrix runs this there)
// a view over an invoker's function, whose row-type view no requester may read.
func TestInvokerViews(t *testing.T) {
	ctx := context.Background()
	_, as := setupRoles(t)
	alice := as("alice")
	var version int
	if err := alice.QueryRow(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	for _, view := range []string{"parquet_export_status", "parquet_export_sidecars"} {
		var invoker, rowsView bool
		if err := alice.QueryRow(ctx, `SELECT coalesce('security_invoker=true' = ANY (c.reloptions), false),
				to_regclass($1 || '__rows') IS NOT NULL
			FROM pg_class c WHERE c.oid = $1::regclass`, view).Scan(&invoker, &rowsView); err != nil {
			t.Fatal(err)
		}
		if version >= 150000 && (!invoker || rowsView) {
			t.Errorf("%s on %d: security_invoker %v, row-type view %v; want a security_invoker view", view, version, invoker, rowsView)
		}
		if version < 150000 {
			if invoker || !rowsView {
				t.Errorf("%s on %d: security_invoker %v, row-type view %v; want the emulation", view, version, invoker, rowsView)
			}
			_, err := alice.Exec(ctx, `SELECT * FROM `+view+`__rows`)
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("alice reads %s__rows: %v, want permission denied", view, err)
			}
		}
		if _, err := alice.Exec(ctx, `SELECT * FROM `+view); err != nil {
			t.Errorf("alice reads %s: %v", view, err)
		}
	}
}

func TestInvokerViewsRewrite(t *testing.T) {
	tests := []struct{ in, out, views string }{
		{"CREATE VIEW a WITH (security_invoker = true) AS SELECT 1;", "CREATE VIEW a AS SELECT 1;", "a"},
		{"create or replace view b_2 with (security_invoker=true)\nAS SELECT 1;\nCREATE VIEW c AS SELECT 2;", "create or replace view b_2 AS SELECT 1;\nCREATE VIEW c AS SELECT 2;", "b_2"},
		{"CREATE VIEW d AS SELECT 1;", "CREATE VIEW d AS SELECT 1;", ""},
	}
	for _, tc := range tests {
		out, views := control.InvokerViews(tc.in)
		if out != tc.out || strings.Join(views, ",") != tc.views {
			t.Errorf("InvokerViews(%q) = %q, %v; want %q, %s", tc.in, out, views, tc.out, tc.views)
		}
	}
}
