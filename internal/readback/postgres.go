package readback

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Querier is what FromPostgres and ColumnsOf need of a connection; *pgx.Conn, *pgxpool.Pool and
// pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// PGColumn names one column to read from PostgreSQL and how its values map to canonical form.
type PGColumn struct {
	Name string
	// TypeOID is the OID of the column's type, with domains resolved to their base type by the
	// caller (ColumnsOf does it); it picks the canonical expression.
	TypeOID uint32
}

//go:embed columns_of.sql
var columnsOfSQL string

// ColumnsOf reads the columns of table from the catalog, in attnum order, skipping dropped
// columns, with each type resolved through domains to its base type. The table name is used as
// written in SQL: the caller quotes it (pgx.Identifier{schema, name}.Sanitize()).
func ColumnsOf(ctx context.Context, q Querier, table string) ([]PGColumn, error) {
	rows, err := q.Query(ctx, columnsOfSQL, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PGColumn, error) {
		var c PGColumn
		err := r.Scan(&c.Name, &c.TypeOID)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("columns of %s: table has no columns", table)
	}
	return cols, nil
}

// FromPostgres reads cols of table in canonical form (see the package comment), with one query
// `SELECT <canonical expression of each column> FROM <table> ORDER BY <sortColumn>`, and sorts
// the rows as FromParquet does. The table name is used verbatim (the caller quotes it); column
// names are quoted here. sortColumn must be one of cols and hold integers with no NULL. Types
// in the result are format_type of each TypeOID (without type modifier).
//
// Timestamps need PostgreSQL 14 or later, where extract returns an exact numeric; on older
// servers FromPostgres refuses tables with timestamp columns rather than compare them loosely.
// Timestamps past int64 microseconds (294247-01-10 04:00:54.775807 UTC to 294276 AD) come back
// exact, as wider integers, for Diff to report.
func FromPostgres(ctx context.Context, q Querier, table string, sortColumn string, cols []PGColumn) (*Table, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("read %s from postgres: no columns given", table)
	}
	key := -1
	seen := make(map[string]bool, len(cols))
	oids := make([]uint32, len(cols))
	exprs := make([]string, len(cols))
	needsExactExtract := false
	for i, c := range cols {
		if seen[c.Name] {
			return nil, fmt.Errorf("read %s from postgres: column %s given twice", table, c.Name)
		}
		seen[c.Name] = true
		if c.Name == sortColumn {
			key = i
		}
		oids[i] = c.TypeOID
		exprs[i] = canonicalExpr(c) + " AS " + pgx.Identifier{c.Name}.Sanitize()
		if c.TypeOID == pgtype.TimestampOID || c.TypeOID == pgtype.TimestamptzOID {
			needsExactExtract = true
		}
	}
	if key < 0 {
		return nil, fmt.Errorf("read %s from postgres: sort column %s is not among the columns", table, sortColumn)
	}

	var version int
	var typeNames []string
	err := queryRow(ctx, q, `SELECT current_setting('server_version_num')::int,
		array(SELECT format_type(o, NULL) FROM unnest($1::oid[]) WITH ORDINALITY AS u(o, n) ORDER BY n)`,
		[]any{oids}, &version, &typeNames)
	if err != nil {
		return nil, fmt.Errorf("read %s from postgres: server version and type names: %w", table, err)
	}
	if needsExactExtract && version < 140000 {
		return nil, fmt.Errorf("read %s from postgres: server version %d: timestamps need PostgreSQL 14 or later, where extract returns an exact numeric", table, version)
	}
	types := make(map[string]string, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		types[c.Name] = typeNames[i]
	}

	sql := "SELECT " + strings.Join(exprs, ", ") + " FROM " + table + " ORDER BY " + pgx.Identifier{sortColumn}.Sanitize()
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read %s from postgres: %w\nquery: %s", table, err, sql)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]*string, error) {
		cells := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range cells {
			dest[i] = &cells[i]
		}
		return cells, r.Scan(dest...)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s from postgres: %w\nquery: %s", table, err, sql)
	}
	if err := sortRows(out, key, sortColumn); err != nil {
		return nil, fmt.Errorf("read %s from postgres: %w", table, err)
	}
	return &Table{Columns: names, Types: types, Rows: out, Source: "postgres", SortColumn: sortColumn}, nil
}

func queryRow(ctx context.Context, q Querier, sql string, args []any, dest ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// canonicalExpr returns the SQL expression giving column c's canonical text (NULL for NULL).
func canonicalExpr(c PGColumn) string {
	col := pgx.Identifier{c.Name}.Sanitize()
	switch c.TypeOID {
	case pgtype.BoolOID:
		return "CASE WHEN " + col + " IS NULL THEN NULL WHEN " + col + " THEN 't' ELSE 'f' END"
	case pgtype.Float4OID:
		return "encode(float4send(" + col + "), 'hex')"
	case pgtype.Float8OID:
		return "encode(float8send(" + col + "), 'hex')"
	case pgtype.BPCharOID:
		// concat calls bpcharout, which keeps the padding that ::text strips.
		return "CASE WHEN " + col + " IS NULL THEN NULL ELSE concat(" + col + ") END"
	case pgtype.ByteaOID:
		return "encode(" + col + ", 'hex')"
	case pgtype.UUIDOID:
		return "replace(" + col + "::text, '-', '')"
	case pgtype.DateOID:
		return "CASE WHEN " + col + " IS NULL THEN NULL" +
			" WHEN isfinite(" + col + ") THEN (" + col + " - date '1970-01-01')::text" +
			" WHEN " + col + " > date '1970-01-01' THEN '2147483647' ELSE '-2147483648' END"
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		// Days times a day's microseconds plus the time of day's, all in numeric: exact, and not
		// limited to int64 (PostgreSQL timestamps run to 294276 AD, past int64 microseconds
		// since 1970 at 294247-01-10 04:00:54.775807 UTC; such rows then show up in Diff instead
		// of failing the query). extract(epoch FROM timestamp) itself is not used: PostgreSQL
		// rounds it to 16 significant digits for timestamps past that point. extract from a time
		// returns an exact numeric since PostgreSQL 14.
		utc := col
		if c.TypeOID == pgtype.TimestamptzOID {
			utc = "(" + col + " AT TIME ZONE 'UTC')"
		}
		return "CASE WHEN " + col + " IS NULL THEN NULL" +
			" WHEN isfinite(" + col + ") THEN trunc((" + utc + "::date - date '1970-01-01')::numeric * 86400000000" +
			" + extract(epoch FROM " + utc + "::time) * 1000000)::text" +
			" WHEN " + col + " > 'epoch' THEN '9223372036854775807' ELSE '-9223372036854775808' END"
	default:
		// Integers, numeric (text output has exactly the declared scale), text, varchar, name,
		// json, jsonb, and every type the exporter writes as its text form.
		return col + "::text"
	}
}
