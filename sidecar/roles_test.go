package sidecar

import (
	"context"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestLeastPrivilegeSidecar runs the sidecar as the role deploy/roles.sql creates (no
// superuser, no BYPASSRLS): it creates the control tables, serves a role granted to it, and
// refuses one that is not with a clear error.
func TestLeastPrivilegeSidecar(t *testing.T) {
	dsn := shared.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	su := pgtest.Connect(t, dsn)
	script, err := os.ReadFile("../deploy/roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	sql := strings.NewReplacer(":sidecar_password", "'pw'", `:"DBNAME"`, pgx.Identifier{cfg.Database}.Sanitize()).Replace(string(script))
	for _, r := range []string{"pgparquet", "pgparquet_admin"} {
		var exists bool
		if err := su.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, r).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists {
			pgtest.Exec(t, su, `DROP OWNED BY `+r+` CASCADE`)
			pgtest.Exec(t, su, `DROP ROLE `+r)
		}
	}
	pgtest.Exec(t, su, sql)
	t.Cleanup(func() { // after the sidecar stopped (cleanups run last first)
		ctx := context.Background()
		su.Exec(ctx, `DROP OWNED BY pgparquet, pgparquet_admin CASCADE`) //nolint:errcheck // best effort
		su.Exec(ctx, `DROP ROLE pgparquet, pgparquet_admin`)             //nolint:errcheck // best effort
	})
	e := &env{dsn: shared.Cluster(t).DSNAs(cfg.Database, "pgparquet", "pw"), db: cfg.Database, su: su, root: t.TempDir()}
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	pgtest.Exec(t, su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
	pgtest.Exec(t, su, `GRANT SELECT ON items TO alice, bob`)
	pgtest.Exec(t, su, `GRANT alice TO pgparquet`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled

	aliceID := insert(t, alice, "items", "")
	bobID := insert(t, bob, "items", "")
	if st := e.waitState(t, aliceID, "succeeded", 10*time.Second); st.Rows != 50 {
		t.Errorf("alice's request: %+v", st)
	}
	st := e.waitState(t, bobID, "failed", 10*time.Second)
	if want := "the sidecar's role pgparquet is not a member of role bob"; !strings.Contains(st.Error, want) {
		t.Errorf("bob's request failed with %q, want %q", st.Error, want)
	}
	var owner string
	if err := su.QueryRow(context.Background(), `SELECT tableowner FROM pg_tables WHERE tablename = 'parquet_export_requests'`).Scan(&owner); err != nil || owner != "pgparquet" {
		t.Errorf("control tables owned by %q (%v), want pgparquet", owner, err)
	}
}
