package export_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// serverVersion returns the server_version_num of conn's server.
func serverVersion(t testing.TB, conn *pgx.Conn) int {
	t.Helper()
	var v int
	if err := conn.QueryRow(context.Background(), `SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// sqlEdit replaces old with new in a test's SQL on servers older than before (a
// server_version_num), which lack what old uses.
type sqlEdit struct {
	before   int
	old, new string
}

// forServer returns the statements with the edits that apply to version; an edit that
// applies must match exactly once among them, so that a change to the SQL cannot silently
// leave it out.
func forServer(t testing.TB, version int, statements []string, edits ...sqlEdit) []string {
	t.Helper()
	out := append([]string(nil), statements...)
	for _, e := range edits {
		if version >= e.before {
			continue
		}
		n := 0
		for i, s := range out {
			n += strings.Count(s, e.old)
			out[i] = strings.ReplaceAll(s, e.old, e.new)
		}
		if n != 1 {
			t.Fatalf("edit for servers before %d: %q occurs %d times, want once", e.before, e.old, n)
		}
	}
	return out
}

// PostgreSQL 13 has no multiranges (they become text columns of the same text) and no numeric
// ±Infinity (NULL instead).
var typesEdits = []sqlEdit{
	{140000, " mr4 int4multirange, mrd datemultirange,", " mr4 text, mrd text,"},
	{140000, "int4multirange(int4range(g, g + 1), int4range(g + 5, g + 9)), datemultirange(daterange(date '2000-01-01', date '2000-01-01' + g)),",
		"'{[' || g || ',' || g + 1 || ')}', '{[2000-01-01,' || date '2000-01-01' + g || ')}',"},
	{140000, "99999999999999999999999999999999999999.99999999999999999999999999999999999999, 'Infinity',",
		"99999999999999999999999999999999999999.99999999999999999999999999999999999999, NULL,"},
	{140000, "'{1.5,NaN,-0.0001,Infinity,NULL}'", "'{1.5,NaN,-0.0001,NULL}'"},
}

// PostgreSQL 13 and 14 keep an interval's hours in an int when they take it apart (text input,
// extract): the largest interval is out of their range. 13's extract returns a double, exact
// below 2^53 microseconds.
var intervalEdits = []sqlEdit{
	{150000, `'2562047788:00:54.775807', '{"-2562047788:00:54.775807"}'`, `'694000:59:59.999999', '{"-694000:59:59.999999"}'`},
}

var valuesEdits = []sqlEdit{
	{140000, "999999999999999999, '-Infinity', 1234", "999999999999999999, NULL, 1234"},
}
