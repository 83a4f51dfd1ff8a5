package export_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestSQLASCIIInvalidUTF8: a SQL_ASCII database may hold text that is not UTF-8; the server
// refuses to send it to a UTF8 client without naming column or row, so the export says what
// it means and what to do.
func TestSQLASCIIInvalidUTF8(t *testing.T) {
	ctx := context.Background()
	super := pgtest.Connect(t, shared.NewDB(t))
	pgtest.Exec(t, super, `DROP DATABASE IF EXISTS sqlascii`)
	pgtest.Exec(t, super, `CREATE DATABASE sqlascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`)
	t.Cleanup(func() { _, _ = super.Exec(context.Background(), `DROP DATABASE IF EXISTS sqlascii WITH (FORCE)`) })
	dsn := shared.Cluster(t).DSN("sqlascii")
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t (id int PRIMARY KEY, a text, s text)`)
	pgtest.Exec(t, conn, `INSERT INTO t SELECT g, 'café', 'ok' FROM generate_series(1, 100) g`)
	pgtest.Exec(t, conn, `INSERT INTO t VALUES (101, 'ok', E'caf\xe9')`)
	_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "t", OutputDir: t.TempDir(), Parallel: 1})
	if err == nil || !strings.Contains(err.Error(), "the database's encoding is SQL_ASCII") || !strings.Contains(err.Error(), "convert_to(col, 'SQL_ASCII')") ||
		!strings.Contains(err.Error(), `column "s" of the row at ctid (0,101), primary key (id)=(101)`) {
		t.Errorf("export: %v", err)
	}
}
