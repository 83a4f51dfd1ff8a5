package export_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestColumnPrivilegesOnly exports as a role granted SELECT on some columns only: the columns
// it may read are exported (with one plain COPY, since ctid ranges need the table), and asking
// for one more names exactly the column it may not read.
func TestColumnPrivilegesOnly(t *testing.T) {
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t AS SELECT g::bigint AS id, md5(g::text) AS secret FROM generate_series(1, 5000) g`)
	pgtest.Exec(t, conn, `DROP ROLE IF EXISTS colrole`)
	pgtest.Exec(t, conn, `CREATE ROLE colrole`)
	t.Cleanup(func() {
		conn.Exec(context.Background(), `DROP OWNED BY colrole`) //nolint:errcheck // best effort
		conn.Exec(context.Background(), `DROP ROLE colrole`)     //nolint:errcheck // best effort
	})
	pgtest.Exec(t, conn, `GRANT SELECT (id) ON t TO colrole`)

	dir := t.TempDir()
	res, err := export.Run(context.Background(), export.Options{ConnConfig: config(t, dsn), Table: "t", Columns: []string{"id"},
		Role: "colrole", OutputDir: dir, Parallel: 4})
	if err != nil {
		t.Fatalf("export of the granted column: %v", err)
	}
	ids := readInt64(t, dir, "id")
	slices.Sort(ids)
	if res.Rows != 5000 || len(ids) != 5000 || ids[0] != 1 || ids[4999] != 5000 {
		t.Errorf("%d rows, ids %d..%d, want 1..5000", res.Rows, ids[0], ids[len(ids)-1])
	}

	_, err = export.Run(context.Background(), export.Options{ConnConfig: config(t, dsn), Table: "t",
		Role: "colrole", OutputDir: t.TempDir()})
	if want := `permission denied: role colrole may not SELECT column(s) "secret" of public.t`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("export of every column: %v, want %q", err, want)
	}
}
