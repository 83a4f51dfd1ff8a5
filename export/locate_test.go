package export_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestDecodeErrorLocatesTheRow: a value the mapping cannot hold fails the export with the row's
// ctid and primary key, which the user can look up (the row number alone counts from the
// start of a task's page range).
func TestDecodeErrorLocatesTheRow(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE loc (id int8 PRIMARY KEY, region text, price numeric(12,2))`)
	pgtest.Exec(t, conn, `INSERT INTO loc SELECT g, 'r' || (g % 5), CASE WHEN g = 7777 THEN 'NaN' ELSE g / 100.0 END FROM generate_series(1, 20000) g`)
	var ctid string
	if err := conn.QueryRow(ctx, `SELECT ctid::text FROM loc WHERE id = 7777`).Scan(&ctid); err != nil {
		t.Fatal(err)
	}
	_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "loc", OutputDir: t.TempDir(), Parallel: 2, Chunks: 4})
	t.Logf("error: %v", err)
	want := "(the row at ctid " + ctid + ", primary key (id)=(7777))"
	if err == nil || !strings.Contains(err.Error(), "NaN does not fit decimal128(12,2)") || !strings.Contains(err.Error(), want) {
		t.Fatalf("export: %v, want the NaN error ending %q", err, want)
	}
}
