package export_test

import (
	"context"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestNumericOfMoreThan32767Digits exports numerics with more base-10000 digits than an
// int16 holds (numeric_send's 16-bit ndigits then reads negative if taken as signed): they
// must come out exactly as PostgreSQL prints them.
func TestNumericOfMoreThan32767Digits(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE big (id int8, n numeric)`)
	pgtest.Exec(t, conn, `INSERT INTO big VALUES
		(1, (repeat('9', 131072) || '.' || repeat('1', 16383))::numeric),
		(2, ('-' || repeat('12345678', 16384))::numeric),
		(3, 1.5)`)
	want := postgresValues(t, conn, "big")
	dir := t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "big", OutputDir: dir, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	checkReadback(t, want, dir, "", 5)
}
