package control_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestRetentionDocRuns runs the SQL of docs/sidecar.md's "Keeping and deleting exports" as a
// requester, statement by statement, as a reader would paste it.
func TestRetentionDocRuns(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sidecar.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Keeping and deleting exports")
	_, block, ok2 := strings.Cut(section, "```sql\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/sidecar.md has no SQL block under ## Keeping and deleting exports")
	}
	dsn, as := setupRoles(t)
	su := pgtest.Connect(t, dsn)
	pgtest.Exec(t, su, `CREATE SCHEMA sales; CREATE TABLE sales.orders (id int); GRANT USAGE ON SCHEMA sales TO alice; GRANT SELECT ON sales.orders TO alice`)
	// Roles are the cluster's: the next test's DROP ROLE alice must not find these grants.
	t.Cleanup(func() { pgtest.Exec(t, su, `DROP SCHEMA sales CASCADE`) })
	alice := as("alice")
	for stmt := range strings.SplitSeq(block, ";\n") {
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		if _, err := alice.Exec(context.Background(), stmt); err != nil {
			t.Errorf("%s: %v", stmt, err)
		}
	}
}
