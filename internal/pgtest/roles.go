package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// RolesPassword is the password InstallRoles gives the sidecar's role pgparquet.
const RolesPassword = "pw"

// InstallRoles runs the repository's deploy/roles.sql with psql, as a DBA would, in database
// db of c: the sidecar's role pgparquet (password RolesPassword), pgparquet_admin, and the
// pgparquet_auth schema whose serve_role makes the sidecar serve a role.
func InstallRoles(t testing.TB, c *Cluster, db string) {
	t.Helper()
	script, err := repoFile("deploy/roles.sql")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(c.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-v", "sidecar_password='"+RolesPassword+"'", "-d", c.DSN(db), "-f", script)
	cmd.Env = append(os.Environ(), "PGOPTIONS=--client-min-messages=warning")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f deploy/roles.sql: %v\n%s", err, out)
	}
}

// ServeRole makes the sidecar serve role (pgparquet_auth.serve_role, as an administrator
// would) through conn, a superuser's session in a database where InstallRoles ran.
func ServeRole(t testing.TB, conn *pgx.Conn, role string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), `SELECT pgparquet_auth.serve_role($1::text::regrole)`, pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatalf("serve role %s: %v", role, err)
	}
}

// repoFile finds path relative to the repository root (the directory holding go.mod) from the
// test's working directory.
func repoFile(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, filepath.FromSlash(path)), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("pgtest: no go.mod above " + strings.TrimSpace(dir))
		}
		dir = parent
	}
}
