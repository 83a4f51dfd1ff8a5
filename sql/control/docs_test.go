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
func TestRetentionDocRuns(t *testing.T) { runDocSQL(t, "## Keeping and deleting exports") }

// TestIcebergDocRuns runs the SQL of docs/sidecar.md's "Iceberg tables" as alice.
func TestIcebergDocRuns(t *testing.T) { runDocSQL(t, "## Iceberg tables") }

// runDocSQL runs the first SQL block under heading of docs/sidecar.md as alice, statement by
// statement, with a table sales.orders she may read.
func runDocSQL(t *testing.T, heading string) {
	doc, err := os.ReadFile("../../docs/sidecar.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), heading+"\n")
	_, block, ok2 := strings.Cut(section, "```sql\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("docs/sidecar.md has no SQL block under %s", heading)
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
