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

// TestIcebergOptionsChecked: a request's and a schedule's Iceberg target is checked when
// written, with one line: the identifier's form, the namespace (the requester's own role name,
// unless an administrator), the catalog (postgres for requesters; postgres:// or rest+http(s)://
// without a password for administrators), and no keep or keep_for with a table.
func TestIcebergOptionsChecked(t *testing.T) {
	ctx := context.Background()
	_, as := setupRoles(t)
	alice, carol := as("alice"), as("carol") // carol is an administrator
	tests := []struct {
		name    string
		who     string
		opts    string // parquet_export's options
		wantErr string // empty: accepted
	}{
		{name: "own namespace", who: "alice", opts: `{"iceberg_table": "alice.t"}`},
		{name: "own namespace, catalog postgres", who: "alice", opts: `{"iceberg_table": "alice.t2", "iceberg_catalog": "postgres"}`},
		{name: "another role's namespace", who: "alice", opts: `{"iceberg_table": "bob.t"}`,
			wantErr: `iceberg_table 'bob.t': its namespace must be your role's name, 'alice', as in 'alice.t' (the sidecar commits with its own login; only members of the admin role commit to other namespaces)`},
		{name: "nested namespace is another", who: "alice", opts: `{"iceberg_table": "alice.x.t"}`, wantErr: "its namespace must be your role's name"},
		{name: "no namespace", who: "alice", opts: `{"iceberg_table": "t"}`, wantErr: `iceberg_table 't' is not namespace.name (like 'alice.orders')`},
		{name: "empty name", who: "alice", opts: `{"iceberg_table": "alice."}`, wantErr: "is not namespace.name"},
		{name: "double dot", who: "alice", opts: `{"iceberg_table": "alice..t"}`, wantErr: "is not namespace.name"},
		{name: "catalog without table", who: "alice", opts: `{"iceberg_catalog": "postgres"}`, wantErr: "iceberg_catalog needs iceberg_table"},
		{name: "requester names a catalog", who: "alice", opts: `{"iceberg_table": "alice.t", "iceberg_catalog": "rest+https://cat.example.com/api"}`,
			wantErr: "only members of the admin role name a catalog other than postgres"},
		{name: "unknown catalog", who: "carol", opts: `{"iceberg_table": "x.t", "iceberg_catalog": "glue://x"}`,
			wantErr: `iceberg_catalog 'glue://x' is not postgres (this database, the default), postgres://… or rest+http(s)://…`},
		{name: "password in catalog", who: "carol", opts: `{"iceberg_table": "x.t", "iceberg_catalog": "postgres://u:secret@db/lake"}`,
			wantErr: "iceberg_catalog holds a password"},
		{name: "admin: any namespace and catalog", who: "carol", opts: `{"iceberg_table": "sales.a.t", "iceberg_catalog": "postgres://u@db/lake"}`},
		{name: "keep_for with a table", who: "alice", opts: `{"iceberg_table": "alice.t", "keep_for": "7 days"}`,
			wantErr: "keep_for: the files will be the Iceberg table alice.t's snapshot"},
	}
	conns := map[string]*pgx.Conn{"alice": alice, "carol": carol}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var id int64
			err := conns[tc.who].QueryRow(ctx, `SELECT parquet_export('t', $1)`, tc.opts).Scan(&id)
			checkErr(t, err, tc.wantErr)
			if err != nil {
				return
			}
			var table, catalog string
			if err := carol.QueryRow(ctx, `SELECT iceberg_table, iceberg_catalog FROM parquet_export_requests WHERE id = $1`, id).Scan(&table, &catalog); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tc.opts, table) || catalog == "" {
				t.Errorf("stored iceberg_table %q, iceberg_catalog %q", table, catalog)
			}
		})
	}
	// The columns, as a requester inserts them; the results are not the requester's to write.
	pgtest.Exec(t, alice, `INSERT INTO parquet_export_requests (table_name, iceberg_table) VALUES ('t', 'alice.cols')`)
	if _, err := alice.Exec(ctx, `INSERT INTO parquet_export_requests (table_name, iceberg_table, iceberg_snapshot) VALUES ('t', 'alice.x', 1)`); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("a requester wrote iceberg_snapshot: %v", err)
	}
	if _, err := alice.Exec(ctx, `INSERT INTO parquet_export_requests (table_name, iceberg_table) VALUES ('t', 'bob.x')`); err == nil || !strings.Contains(err.Error(), "its namespace must be your role's name") {
		t.Errorf("alice inserted a request for bob.x: %v", err)
	}

	schedules := []struct {
		name, who, opts, wantErr string
	}{
		{name: "own", who: "alice", opts: `{"output_path": "t/{slot}", "iceberg_table": "alice.daily"}`},
		{name: "other", who: "alice", opts: `{"output_path": "t/{slot}", "iceberg_table": "bob.daily"}`, wantErr: "schedule 'other': iceberg_table 'bob.daily': its namespace must be your role's name"},
		{name: "keep", who: "alice", opts: `{"output_path": "t/{slot}", "iceberg_table": "alice.d", "keep": 3}`, wantErr: "schedule 'keep': keep: the files of its runs will be the Iceberg table alice.d's snapshots"},
		{name: "keep_for", who: "alice", opts: `{"output_path": "t/{slot}", "iceberg_table": "alice.d", "keep_for": "1 day"}`, wantErr: "schedule 'keep_for': keep_for: the files will be"},
		{name: "number", who: "alice", opts: `{"output_path": "t/{slot}", "iceberg_table": 5}`, wantErr: "schedule 'number': iceberg_table must be a string, not 5"},
		{name: "admin", who: "carol", opts: `{"output_path": "t/{slot}", "iceberg_table": "lake.daily"}`},
	}
	for _, tc := range schedules {
		t.Run("schedule "+tc.name, func(t *testing.T) {
			_, err := conns[tc.who].Exec(ctx, `SELECT parquet_export_schedule($1, '0 * * * *', 't', $2)`, tc.name, tc.opts)
			checkErr(t, err, tc.wantErr)
		})
	}
}

// TestIcebergQueueSlotAndDelete: a schedule's run gets the schedule's Iceberg target; the
// files of a request that is an Iceberg snapshot are not deleted (parquet_export_delete
// refuses with one line, and expiry passes it by), except by an administrator.
func TestIcebergQueueSlotAndDelete(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	alice, carol := as("alice"), as("carol")
	su := pgtest.Connect(t, dsn)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('s', '0 * * * *', 't', '{"output_path": "t/{slot}", "iceberg_table": "alice.t"}')`)
	q := control.Over(su, "")
	all, err := q.EnabledSchedules(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("schedules %+v, %v", all, err)
	}
	slot := time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	run, err := q.QueueSlot(ctx, all[0], slot, slot.Add(time.Hour))
	if err != nil || !run.Created {
		t.Fatalf("queue slot: %+v, %v", run, err)
	}
	var table, catalog string
	if err := su.QueryRow(ctx, `SELECT iceberg_table, iceberg_catalog FROM parquet_export_requests WHERE id = $1`, run.RequestID).Scan(&table, &catalog); err != nil {
		t.Fatal(err)
	}
	if table != "alice.t" || catalog != "postgres" {
		t.Errorf("the run's Iceberg target: %q in %q, want alice.t in postgres", table, catalog)
	}
	// As if the sidecar had exported and committed it (and it had expired, were it not a snapshot).
	pgtest.Exec(t, su, `UPDATE parquet_export_requests SET state = 'succeeded', finished_at = now() - interval '2 days',
		keep_for = '1 day', iceberg_snapshot = 42 WHERE id = $1`, run.RequestID)
	_, err = alice.Exec(ctx, `SELECT parquet_export_delete($1)`, run.RequestID)
	checkErr(t, err, "its files are the Iceberg table alice.t's snapshot 42; expire the snapshot first, then an administrator may delete them")
	expired, err := q.ExpireExports(ctx)
	if err != nil || len(expired) != 0 {
		t.Errorf("expiry marked %+v (%v), want nothing: the export is a snapshot", expired, err)
	}
	var what string
	if err := carol.QueryRow(ctx, `SELECT parquet_export_delete($1)`, run.RequestID).Scan(&what); err != nil || what != "deleting" {
		t.Errorf("an administrator's delete: %q, %v", what, err)
	}
}

// checkErr fails t unless err is nil and want empty, or err is one line containing want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("refused: %v", err)
	case want != "" && err == nil:
		t.Errorf("accepted, want an error containing %q", want)
	case want != "" && (!strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n")):
		t.Errorf("error %q, want one line containing %q", err, want)
	}
}

// TestCheckCatalogSchema: the sidecar writes the SQL catalog only in a schema that it or a
// superuser owns, with nothing in it another role owns (whose trigger or function could run
// as the sidecar's role).
func TestCheckCatalogSchema(t *testing.T) {
	ctx := context.Background()
	dsn, as := setupRoles(t)
	su := pgtest.Connect(t, dsn)
	q := control.Over(su, "")
	if err := q.CheckCatalogSchema(ctx, "pgparquet_iceberg_test"); err != nil {
		t.Errorf("missing schema: %v", err)
	}
	pgtest.Exec(t, su, `CREATE SCHEMA pgparquet_iceberg_test AUTHORIZATION alice`)
	t.Cleanup(func() { pgtest.Exec(t, su, `DROP SCHEMA pgparquet_iceberg_test CASCADE`) })
	checkErr(t, q.CheckCatalogSchema(ctx, "pgparquet_iceberg_test"), "schema pgparquet_iceberg_test, or something in it, is owned by role alice")
	pgtest.Exec(t, su, `ALTER SCHEMA pgparquet_iceberg_test OWNER TO CURRENT_USER`)
	if err := q.CheckCatalogSchema(ctx, "pgparquet_iceberg_test"); err != nil {
		t.Errorf("schema of the connected role: %v", err)
	}
	pgtest.Exec(t, su, `GRANT CREATE, USAGE ON SCHEMA pgparquet_iceberg_test TO bob`)
	pgtest.Exec(t, as("bob"), `CREATE FUNCTION pgparquet_iceberg_test.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`)
	checkErr(t, q.CheckCatalogSchema(ctx, "pgparquet_iceberg_test"), "is owned by role bob")
}
