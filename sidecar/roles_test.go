package sidecar

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// leastPrivilegeEnv is newEnv with the sidecar running as pgparquet, the role deploy/roles.sql
// creates (no superuser, no BYPASSRLS, a member of no served role), without req, and without
// the control tables until the sidecar's first start creates them.
func leastPrivilegeEnv(t *testing.T) *env {
	t.Helper()
	dsn := shared.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	su := pgtest.Connect(t, dsn)
	pgtest.InstallRoles(t, shared.Cluster(t), cfg.Database)
	return &env{dsn: shared.Cluster(t).DSNAs(cfg.Database, "pgparquet", pgtest.RolesPassword), suDSN: dsn, db: cfg.Database, su: su, root: t.TempDir()}
}

// leastPrivilegeReqEnv is leastPrivilegeEnv with req, a served role holding no privilege
// beyond what the test grants it (GRANT SELECT ON a table, as a DBA would), so that the
// test's requests are checked the way production checks them.
func leastPrivilegeReqEnv(t *testing.T) *env {
	t.Helper()
	e := leastPrivilegeEnv(t)
	e.req = e.role(t, "req")
	return e
}

// TestLeastPrivilegeSidecar runs the sidecar as the role deploy/roles.sql creates: it creates
// the control tables, serves a role served through pgparquet_auth.serve_role, and refuses one
// that is not, and a superuser, with clear errors.
func TestLeastPrivilegeSidecar(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	pgtest.Exec(t, e.su, `SELECT pgparquet_auth.unserve_role('bob')`)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 50) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice, bob`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled

	aliceID := insert(t, alice, "items", "")
	bobID := insert(t, bob, "items", "")
	if st := e.waitState(t, aliceID, "succeeded", 10*time.Second); st.Rows != 50 {
		t.Errorf("alice's request: %+v", st)
	}
	// Serving again rotates the login's password; the sidecar reads the new one.
	pgtest.ServeRole(t, e.su, "alice")
	if st := e.waitState(t, insert(t, alice, "items", "again"), "succeeded", 10*time.Second); st.Rows != 50 {
		t.Errorf("alice's request after the password rotated: %+v", st)
	}
	st := e.waitState(t, bobID, "failed", 10*time.Second)
	if want := "role bob is not served by pgparquet: an administrator must run SELECT pgparquet_auth.serve_role('bob')"; !strings.Contains(st.Error, want) {
		t.Errorf("bob's request failed with %q, want %q", st.Error, want)
	}
	var owner string
	if err := e.su.QueryRow(context.Background(), `SELECT tableowner FROM pg_tables WHERE tablename = 'parquet_export_requests'`).Scan(&owner); err != nil || owner != "pgparquet" {
		t.Errorf("control tables owned by %q (%v), want pgparquet", owner, err)
	}
	for _, tc := range []struct{ setup, role, want string }{
		{`CREATE ROLE su_requester SUPERUSER`, "su_requester", "is a superuser or bypasses row-level security"},
		{`CREATE ROLE rls_requester BYPASSRLS`, "rls_requester", "is a superuser or bypasses row-level security"},
		{`CREATE ROLE climber; GRANT su_requester TO climber`, "climber", "can become role su_requester"},
	} {
		pgtest.Exec(t, e.su, tc.setup)
		t.Cleanup(func() { e.su.Exec(context.Background(), `DROP ROLE `+tc.role) }) //nolint:errcheck // best effort
		_, err := e.su.Exec(context.Background(), `SELECT pgparquet_auth.serve_role($1)`, tc.role)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve_role(%s): %v, want an error containing %q", tc.role, err, tc.want)
		}
	}
}

// TestRequesterCodeCannotSwitchRole is the attack of a served role's own code run by its
// export (a view's function, a row-level security policy): it must not reach another role the
// sidecar serves, nor the sidecar's own role, and session_user must not widen what a policy
// shows. Each attack is refused or harmless, and the test states the error a user sees.
func TestRequesterCodeCannotSwitchRole(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	for _, r := range []string{"alice", "bob"} {
		pgtest.Exec(t, e.su, `CREATE SCHEMA `+r+` AUTHORIZATION `+r)
	}
	pgtest.Exec(t, bob, `CREATE TABLE bob.secret AS SELECT g AS id, 'bob secret ' || g AS payload FROM generate_series(1, 5) g`)
	// Attack 1: a view over a function that switches to bob.
	pgtest.Exec(t, alice, `CREATE FUNCTION alice.steal() RETURNS SETOF text LANGUAGE plpgsql AS $$
		BEGIN PERFORM set_config('role', 'bob', true); RETURN QUERY SELECT payload FROM bob.secret ORDER BY id LIMIT 3; END $$`)
	pgtest.Exec(t, alice, `CREATE VIEW alice.v_steal AS SELECT s AS stolen FROM alice.steal() s`)
	// Attack 2: a policy on alice's own table whose function becomes pgparquet and reads every
	// request past the control tables' row-level security.
	pgtest.Exec(t, alice, `CREATE TABLE alice.bait AS SELECT 1 AS id`)
	pgtest.Exec(t, alice, `CREATE FUNCTION alice.peek() RETURNS boolean LANGUAGE plpgsql AS $$
		DECLARE n bigint; BEGIN PERFORM set_config('role', 'pgparquet', true);
		SELECT count(*) INTO n FROM public.parquet_export_requests;
		RAISE EXCEPTION 'saw % requests', n; END $$`)
	pgtest.Exec(t, alice, `ALTER TABLE alice.bait ENABLE ROW LEVEL SECURITY`)
	pgtest.Exec(t, alice, `ALTER TABLE alice.bait FORCE ROW LEVEL SECURITY`)
	pgtest.Exec(t, alice, `CREATE POLICY p ON alice.bait USING (alice.peek())`)
	// Attack 3: bob's policy trusts session_user.
	pgtest.Exec(t, bob, `CREATE TABLE bob.shared (owner name, note text)`)
	pgtest.Exec(t, bob, `INSERT INTO bob.shared VALUES ('bob', 'for bob only'), ('alice', 'for alice')`)
	pgtest.Exec(t, bob, `ALTER TABLE bob.shared ENABLE ROW LEVEL SECURITY`)
	pgtest.Exec(t, bob, `CREATE POLICY mine ON bob.shared USING (pg_has_role(session_user, owner, 'MEMBER'))`)
	pgtest.Exec(t, bob, `GRANT USAGE ON SCHEMA bob TO alice`)
	pgtest.Exec(t, bob, `GRANT SELECT ON bob.shared TO alice`)
	var direct int
	if err := alice.QueryRow(context.Background(), `SELECT count(*) FROM bob.shared WHERE owner = 'bob'`).Scan(&direct); err != nil || direct != 0 {
		t.Fatalf("alice reads %d of bob's rows directly (%v), want 0", direct, err)
	}
	if _, err := alice.Exec(context.Background(), `SELECT * FROM alice.v_steal`); err == nil || !strings.Contains(err.Error(), `permission denied to set role "bob"`) {
		t.Fatalf("alice's view queried directly: %v, want permission denied to set role", err)
	}
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true)

	steal := insert(t, alice, "alice.v_steal", "")
	st := e.waitState(t, steal, "failed", 10*time.Second)
	if want := `permission denied to set role "bob"`; !strings.Contains(st.Error, want) {
		t.Errorf("export of alice.v_steal failed with %q, want %q", st.Error, want)
	}
	t.Logf("attack 1 (view switching to bob) gets: %s", st.Error)

	peek := insert(t, alice, "alice.bait", "")
	st = e.waitState(t, peek, "failed", 10*time.Second)
	if want := `permission denied to set role "pgparquet"`; !strings.Contains(st.Error, want) || strings.Contains(st.Error, "saw ") {
		t.Errorf("export of alice.bait failed with %q, want %q and nothing seen", st.Error, want)
	}
	t.Logf("attack 2 (policy switching to pgparquet) gets: %s", st.Error)

	shared := insert(t, alice, "bob.shared", "")
	st = e.waitState(t, shared, "succeeded", 10*time.Second)
	if st.Rows != 1 {
		t.Errorf("alice's export of bob.shared holds %d rows, want 1 (only hers, as she reads it directly)", st.Rows)
	}
	t.Logf("attack 3 (session_user in a policy): alice's export holds %d row(s), as directly", st.Rows)
}

// TestNotifyIsNotACommand: a role with nothing but CONNECT sends the sidecar's cancel
// notification for a running request: the request keeps running and succeeds, since only the
// control tables decide.
func TestNotifyIsNotACommand(t *testing.T) {
	e := newEnv(t)
	carol := e.role(t, "carol")
	pgtest.Exec(t, e.su, `SELECT pgparquet_auth.unserve_role('carol')`)
	pgtest.Exec(t, e.su, `CREATE FUNCTION slow(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN i; END $$`)
	pgtest.Exec(t, e.su, `CREATE VIEW slow_rows AS SELECT slow(g) AS g FROM generate_series(1, 3000) g`)
	e.start(t, "s1", nil)
	id := insert(t, e.req, "slow_rows", "")
	e.waitState(t, id, "running", 10*time.Second)
	for range 3 {
		pgtest.Exec(t, carol, `SELECT pg_notify('pgparquet.public', 'cancel ' || $1::bigint)`, id)
		time.Sleep(300 * time.Millisecond)
	}
	st := e.waitState(t, id, "succeeded", 30*time.Second)
	if st.Rows != 3000 {
		t.Errorf("status %+v after carol's notifications, want 3000 rows", st)
	}
}
