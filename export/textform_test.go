package export_test

import (
	"context"
	"slices"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
)

// TestTextFormsFromOutputFunctions exports values whose cast to text differs from what their
// type's output function prints: inet (the cast adds /128 or /32), a composite with a
// user-defined cast to text, inet[] elements, and char(n) under --as-text (the cast strips the
// padding). Each must read back as PostgreSQL prints it.
func TestTextFormsFromOutputFunctions(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TYPE pair AS (a int, p point)`)
	pgtest.Exec(t, conn, `CREATE FUNCTION pair_text(pair) RETURNS text LANGUAGE sql IMMUTABLE AS $$SELECT 'not the value'$$`)
	pgtest.Exec(t, conn, `CREATE CAST (pair AS text) WITH FUNCTION pair_text(pair)`)
	pgtest.Exec(t, conn, `CREATE TABLE tf (id int8, ip inet, pr pair, ips inet[], ch char(5))`)
	pgtest.Exec(t, conn, `INSERT INTO tf VALUES
		(1, '::1', ROW(1, '(1,2)'), '{::1,10.0.0.1,NULL}', 'ab'),
		(2, '10.0.0.1', ROW(NULL, NULL), '[0:1]={::1,::2}', NULL),
		(3, NULL, NULL, NULL, 'abcde')`)
	dir := t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "tf", OutputDir: dir, Parallel: 1,
		Columns: []string{"id", "ip", "pr", "ch"}, AsText: []string{"ch"}}); err != nil {
		t.Fatal(err)
	}
	checkStatistics(t, dir)
	got, err := readback.FromParquet(ctx, readback.ReaderPyArrow, "id", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"ip": {"::1", "10.0.0.1", "<NULL>"},
		"pr": {`(1,"(1,2)")`, "(,)", "<NULL>"},
		"ch": {"ab   ", "<NULL>", "abcde"},
	}
	for name, values := range want {
		ci := slices.Index(got.Columns, name)
		for r, w := range values {
			v := "<NULL>"
			if p := got.Rows[r][ci]; p != nil {
				v = *p
			}
			if v != w {
				t.Errorf("row %d column %s: %q, want %q", r+1, name, v, w)
			}
		}
	}
	// Arrays of such elements: their text forms as text[]; lower bounds other than 1 are
	// refused as before.
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "tf", OutputDir: t.TempDir(), Parallel: 1,
		Columns: []string{"id", "ips"}}); err == nil {
		t.Error("inet[] with lower bound 0 exported; want the usual refusal")
	}
	pgtest.Exec(t, conn, `DELETE FROM tf WHERE id = 2`)
	wantAll := postgresValues(t, conn, "tf")
	dir = t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "tf", OutputDir: dir, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	checkReadback(t, wantAll, dir, "", 10)
	got, err = readback.FromParquet(ctx, readback.ReaderPyArrow, "id", dir)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Rows[0][slices.Index(got.Columns, "ips")]; v == nil || *v != `["::1","10.0.0.1",null]` {
		t.Errorf("row 1 column ips: %v, want the elements as inet prints them", v)
	}
}
