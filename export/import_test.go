package export_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestImportedSnapshot reads a table in a snapshot exported elsewhere (Options.Snapshot): the
// rows committed after it are not read, its LSN is the result's, and a table rewritten after
// it (which the snapshot would read as empty) fails the export.
func TestImportedSnapshot(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE imp (id int PRIMARY KEY); INSERT INTO imp SELECT generate_series(1, 1000)`)

	exporter := pgtest.Connect(t, dsn)
	tx, err := exporter.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, conn, `INSERT INTO imp SELECT generate_series(1001, 1500)`)

	res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "imp", OutputDir: t.TempDir(), Parallel: 2,
		Snapshot: id, SnapshotLSN: "0/12345678"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1000 || res.LSN != "0/12345678" {
		t.Fatalf("rows %d, lsn %s: want the 1000 rows of the imported snapshot at its LSN", res.Rows, res.LSN)
	}

	pgtest.Exec(t, conn, `VACUUM FULL imp`)
	_, err = export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "imp", OutputDir: t.TempDir(), Parallel: 2,
		Snapshot: id, SnapshotLSN: "0/12345678"})
	if err == nil || !strings.Contains(err.Error(), "was rewritten") {
		t.Fatalf("export of a table rewritten after the imported snapshot: %v", err)
	}
}
