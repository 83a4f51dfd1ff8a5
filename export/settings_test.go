package export_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestSessionSettingsDoNotChangeValues exports types whose text forms depend on session
// settings (floats in geometric types, timestamps, intervals, dates and bytea inside a
// composite exported as text) from a database whose defaults and the client's PGOPTIONS set
// every one of those settings differently: the values must be those of a session with
// PostgreSQL's defaults (ISO, UTC, full float digits, hex).
func TestSessionSettingsDoNotChangeValues(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TYPE comp AS (p point, ts timestamptz, iv interval, d date, f float8, by bytea)`)
	pgtest.Exec(t, conn, `CREATE TABLE s (id int8, p point, bx box, c comp, ts timestamptz, iv interval)`)
	pgtest.Exec(t, conn, `INSERT INTO s VALUES
		(1, '(0.1,0.30000000000000004)', '((1.7976931348623157e+308,1),(0,0))',
		 ROW('(1.5,2.25)', '2000-06-01 12:00:00+00', '1 year 2 mons 3 days 04:05:06.789', '2000-06-01', 0.1, '\x00ff'),
		 '2000-06-01 12:00:00+00', '-1 year 2 mons -3 days 04:05:06.789'),
		(2, NULL, NULL, ROW(NULL, '1999-12-31 23:59:59.999999+00', '-00:00:01', '0044-03-15 BC', 1e-310, ''), NULL, NULL)`)
	want := postgresValues(t, conn, "s")
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	for _, set := range []string{"extra_float_digits = 0", "DateStyle = 'Postgres, DMY'", "TimeZone = 'Asia/Kolkata'",
		"IntervalStyle = 'sql_standard'", "bytea_output = 'escape'"} {
		pgtest.Exec(t, conn, fmt.Sprintf("ALTER DATABASE %s SET %s", pgx.Identifier{db}.Sanitize(), set))
	}
	cfg := config(t, dsn)
	cfg.RuntimeParams["options"] = "-c extra_float_digits=-3 -c TimeZone=America/St_Johns -c IntervalStyle=iso_8601"
	dir := t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: cfg, Table: "s", OutputDir: dir, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	checkReadback(t, want, dir, "", 20)
}
