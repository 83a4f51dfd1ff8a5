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

// TestArrayDeclaredBeyondMaxDims: an array column declared with more dimensions than a value
// can have (PostgreSQL does not enforce the declaration) fails on its first row, naming the row
// and the option that exports it, and --as-text exports it exactly.
func TestArrayDeclaredBeyondMaxDims(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE a7 (id int PRIMARY KEY, v int[][][][][][][])`)
	pgtest.Exec(t, conn, `INSERT INTO a7 SELECT g, '{1,2}' FROM generate_series(1, 5) g`)
	_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "a7", OutputDir: t.TempDir(), Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), `row 0, column "v"`) || !strings.Contains(err.Error(), "--as-text") ||
		!strings.Contains(err.Error(), "primary key (id)=(1)") {
		t.Errorf("export: %v, want the first row, its key and --as-text", err)
	}
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "a7", AsText: []string{"v"}, OutputDir: t.TempDir(), Parallel: 1}); err != nil {
		t.Errorf("export with --as-text v: %v", err)
	}
}
