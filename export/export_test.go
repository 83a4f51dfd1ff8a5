package export_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// connect opens a superuser connection to dsn for test setup, closed when the test ends.
func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func config(t *testing.T, dsn string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func readManifest(t *testing.T, dir string) export.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, export.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	var m export.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExportSmoke(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := connect(t, dsn)
	mustExec(t, conn, `CREATE TABLE t AS SELECT g AS id, g::text AS s, (g * 1.5)::numeric(12,2) AS n FROM generate_series(1, 100000) g`)
	dir := t.TempDir()
	res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "t", OutputDir: dir, Parallel: 4, Chunks: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 100000 {
		t.Fatalf("rows = %d, want 100000", res.Rows)
	}
	m := readManifest(t, dir)
	if m.Rows != 100000 || len(m.Files) == 0 {
		t.Fatalf("manifest: %+v", m)
	}
	t.Logf("%+v", res)
}
