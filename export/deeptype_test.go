package export_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestTypeNestedTooDeep: a composite nested 70 deep is refused in one short line that names the
// column and what to do, not one step per level.
func TestTypeNestedTooDeep(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TYPE c1 AS (x int)`)
	for i := 2; i <= 70; i++ {
		pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TYPE c%d AS (y c%d)`, i, i-1))
	}
	pgtest.Exec(t, conn, `CREATE TABLE deep (id int, v c70)`)
	_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "deep", OutputDir: t.TempDir(), Parallel: 1})
	want := `table public.deep: column "v": its type nests domains, arrays, composites or ranges more than 64 deep, which is not exported: leave the column out (--columns)`
	if err == nil || !strings.Contains(err.Error(), want) || len(err.Error()) > 300 {
		t.Errorf("export: %v\nwant one short line ending %q", err, want)
	}
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "deep", Columns: []string{"id"}, OutputDir: t.TempDir(), Parallel: 1}); err != nil {
		t.Errorf("export of the other columns: %v", err)
	}
}
