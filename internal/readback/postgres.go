package readback

import (
	"context"
	_ "embed"
	"encoding/json"
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
	// Dims is pg_attribute.attndims (ColumnsOf reads it): an array column's values are compared
	// as that many nested lists (at least one).
	Dims int
	// TimestampText compares timestamp and timestamptz values (anywhere in the column's type)
	// in the exporter's text form (--timestamp text): PostgreSQL's ISO output, timestamptz in
	// UTC with "+00" before any " BC". The server's DateStyle must be ISO (the default).
	TimestampText bool
	// AsText compares the column's text form (its type's output), for columns exported as text.
	AsText bool
	// UUIDText compares uuid values (anywhere in the column's type) as PostgreSQL prints them,
	// with hyphens, as the exporter writes them for --compat spark.
	UUIDText bool
}

//go:embed columns_of.sql
var columnsOfSQL string

// FromTable is FromPostgres over every column of table (ColumnsOf), rows ordered by the
// integer column sortColumn.
func FromTable(ctx context.Context, q Querier, table, sortColumn string) (*Table, error) {
	cols, err := ColumnsOf(ctx, q, table)
	if err != nil {
		return nil, err
	}
	return FromPostgres(ctx, q, table, sortColumn, cols)
}

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
		err := r.Scan(&c.Name, &c.TypeOID, &c.Dims)
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
	var jsonCols []bool
	for i, c := range cols {
		if seen[c.Name] {
			return nil, fmt.Errorf("read %s from postgres: column %s given twice", table, c.Name)
		}
		seen[c.Name] = true
		if c.Name == sortColumn {
			key = i
		}
		oids[i] = c.TypeOID
		expr, isJSON, err := canonicalColumn(ctx, q, c)
		if err != nil {
			return nil, fmt.Errorf("read %s from postgres: column %s: %w", table, c.Name, err)
		}
		jsonCols = append(jsonCols, isJSON)
		exprs[i] = expr + " AS " + pgx.Identifier{c.Name}.Sanitize()
	}
	if key < 0 {
		return nil, fmt.Errorf("read %s from postgres: sort column %s is not among the columns", table, sortColumn)
	}

	var typeNames []string
	err := queryRow(ctx, q, `SELECT array(SELECT format_type(o, NULL) FROM unnest($1::oid[]) WITH ORDINALITY AS u(o, n) ORDER BY n)`,
		[]any{oids}, &typeNames)
	if err != nil {
		return nil, fmt.Errorf("read %s from postgres: type names: %w", table, err)
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
	for _, row := range out {
		for i, cell := range row {
			if cell != nil && jsonCols[i] {
				canon, err := canonicalJSON(*cell)
				if err != nil {
					return nil, fmt.Errorf("read %s from postgres: column %s: %w", table, cols[i].Name, err)
				}
				row[i] = &canon
			}
		}
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

// scalarExpr returns the SQL expression giving the canonical text of a value e (an SQL
// expression) of base type oid (NULL for NULL), or "" when the type's canonical form is not
// text (time zones and intervals, compared as lists).
func scalarExpr(e string, oid uint32, c PGColumn) string {
	switch oid {
	case pgtype.BoolOID:
		return "CASE WHEN " + e + " IS NULL THEN NULL WHEN " + e + " THEN 't' ELSE 'f' END"
	case pgtype.Float4OID:
		return "encode(float4send(" + e + "), 'hex')"
	case pgtype.Float8OID:
		return "encode(float8send(" + e + "), 'hex')"
	case pgtype.BPCharOID:
		// concat calls bpcharout, which keeps the padding that ::text strips.
		return "CASE WHEN " + e + " IS NULL THEN NULL ELSE concat(" + e + ") END"
	case pgtype.ByteaOID:
		return "encode(" + e + ", 'hex')"
	case pgtype.UUIDOID:
		if c.UUIDText {
			return e + "::text"
		}
		return "replace(" + e + "::text, '-', '')"
	case pgtype.DateOID:
		return "CASE WHEN " + e + " IS NULL THEN NULL" +
			" WHEN isfinite(" + e + ") THEN (" + e + " - date '1970-01-01')::text" +
			" WHEN " + e + " > date '1970-01-01' THEN '2147483647' ELSE '-2147483648' END"
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		if c.TimestampText {
			if oid == pgtype.TimestampOID {
				return e + "::text"
			}
			return "CASE WHEN isfinite(" + e + ") THEN regexp_replace((" + e + " AT TIME ZONE 'UTC')::text, '( BC)?$', '+00\\1')" +
				" ELSE " + e + "::text END"
		}
		// Days times a day's microseconds plus the time of day's, all in numeric: exact, and not
		// limited to int64 (PostgreSQL timestamps run to 294276 AD, past int64 microseconds
		// since 1970 at 294247-01-10 04:00:54.775807 UTC; such rows then show up in Diff instead
		// of failing the query). extract(epoch FROM timestamp) itself is not used: PostgreSQL
		// rounds it to 16 significant digits for timestamps past that point. extract from a time
		// returns an exact numeric since PostgreSQL 14, a double before: the time of day's
		// microseconds (below 2^37) are then rounded to the integer they are.
		utc := e
		if oid == pgtype.TimestamptzOID {
			utc = "(" + e + " AT TIME ZONE 'UTC')"
		}
		return "CASE WHEN " + e + " IS NULL THEN NULL" +
			" WHEN isfinite(" + e + ") THEN trunc((" + utc + "::date - date '1970-01-01')::numeric * 86400000000" +
			" + round((extract(epoch FROM " + utc + "::time) * 1000000)::numeric))::text" +
			" WHEN " + e + " > 'epoch' THEN '9223372036854775807' ELSE '-9223372036854775808' END"
	case pgtype.TimeOID:
		return "(extract(epoch FROM " + e + ") * 1000000)::int8::text"
	case oidMoney:
		return e + "::numeric::text"
	case pgtype.TimetzOID, pgtype.IntervalOID:
		return ""
	default:
		// Integers, oid, xid, cid, xid8, numeric (text output has exactly the declared scale),
		// text, varchar, name, citext, json, jsonb, xml, enums, and every type the exporter
		// writes as its text form.
		return e + "::text"
	}
}

// oidMoney is money's OID, which pgtype has no constant for.
const oidMoney = 790

// nativeOIDs are the base types the exporter decodes natively (others, xml among them, it exports
// as text); citext is known by name.
var nativeOIDs = map[uint32]bool{
	pgtype.BoolOID: true, pgtype.ByteaOID: true, pgtype.NameOID: true, pgtype.Int8OID: true, pgtype.Int2OID: true,
	pgtype.Int4OID: true, pgtype.TextOID: true, pgtype.JSONOID: true, pgtype.Float4OID: true, pgtype.Float8OID: true,
	pgtype.BPCharOID: true, pgtype.VarcharOID: true, pgtype.DateOID: true, pgtype.TimestampOID: true,
	pgtype.TimestamptzOID: true, pgtype.NumericOID: true, pgtype.UUIDOID: true, pgtype.JSONBOID: true,
	pgtype.OIDOID: true, pgtype.XIDOID: true, pgtype.CIDOID: true, pgtype.XID8OID: true, oidMoney: true, pgtype.TimeOID: true, pgtype.TimetzOID: true,
	pgtype.IntervalOID: true,
}

// typeNode is a column's type as the catalog describes it, domains resolved.
type typeNode struct {
	oid    uint32
	name   string
	class  string // "b" base, "a" array, "c" composite, "e" enum, "r" range, "m" multirange
	elem   *typeNode
	fields []fieldNode
	dims   int
}

type fieldNode struct {
	name string
	typ  *typeNode
}

// native reports whether the exporter decodes the type natively (else as text).
func (t *typeNode) native() bool {
	switch t.class {
	case "e":
		return true
	case "a", "r", "m":
		// An array of a type without native decoding is exported as a list of text; a range or
		// multirange as its text.
		return t.elem != nil && t.elem.native()
	case "c":
		for _, f := range t.fields {
			if !f.typ.native() {
				return false
			}
		}
		return len(t.fields) > 0
	}
	return nativeOIDs[t.oid] || t.name == "citext"
}

// readType reads the type tree of oid from the catalog.
func readType(ctx context.Context, q Querier, oid uint32, dims, depth int) (*typeNode, error) {
	if depth > 32 {
		return nil, fmt.Errorf("type %d nested too deep", oid)
	}
	var typtype, name, category string
	var base, elem, relid, subtype, rangeOf uint32
	var typlen int32
	err := queryRow(ctx, q, `SELECT t.typtype::text, t.typname::text, t.typcategory::text, t.typbasetype, t.typelem, t.typrelid,
			coalesce((SELECT rngsubtype FROM pg_range WHERE rngtypid = t.oid), 0),
			coalesce((SELECT r.rngtypid FROM pg_range r WHERE (to_jsonb(r) ->> 'rngmultitypid')::oid = t.oid), 0), t.typlen::int4
		FROM pg_type t WHERE t.oid = $1`, []any{oid}, &typtype, &name, &category, &base, &elem, &relid, &subtype, &rangeOf, &typlen)
	if err != nil {
		return nil, fmt.Errorf("read type %d: %w", oid, err)
	}
	t := &typeNode{oid: oid, name: name, class: "b"}
	switch {
	case typtype == "d":
		return readType(ctx, q, base, dims, depth+1)
	case category == "A" && elem != 0 && typlen == -1:
		t.class, t.dims = "a", max(dims, 1)
		t.elem, err = readType(ctx, q, elem, 0, depth+1)
	case typtype == "c":
		t.class = "c"
		var rows pgx.Rows
		rows, err = q.Query(ctx, `SELECT attname::text, atttypid, attndims FROM pg_attribute
			WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, relid)
		if err != nil {
			return nil, err
		}
		type attr struct {
			name string
			oid  uint32
			dims int
		}
		var attrs []attr
		attrs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (attr, error) {
			var a attr
			return a, r.Scan(&a.name, &a.oid, &a.dims)
		})
		for _, a := range attrs {
			ft, ferr := readType(ctx, q, a.oid, a.dims, depth+1)
			if ferr != nil {
				return nil, ferr
			}
			t.fields = append(t.fields, fieldNode{a.name, ft})
		}
	case typtype == "e":
		t.class = "e"
	case typtype == "r" && subtype != 0:
		t.class = "r"
		t.elem, err = readType(ctx, q, subtype, 0, depth+1)
	case typtype == "m" && rangeOf != 0:
		t.class = "m"
		t.elem, err = readType(ctx, q, rangeOf, 0, depth+1)
	}
	return t, err
}

// textForm is the expression of value e's text form as its type's output function prints it
// (concat calls it; a cast to text may print something else), NULL for NULL (num_nulls: a
// composite of NULL fields IS NULL, yet has a text form).
func textForm(e string) string {
	return "CASE WHEN num_nulls(" + e + ") = 1 THEN NULL ELSE concat(" + e + ") END"
}

// canonicalColumn returns the SQL expression giving column c's canonical text (NULL for NULL)
// and whether that text is JSON (nested values: lists, structs), which FromPostgres then
// re-encodes as canonicalJSON.
func canonicalColumn(ctx context.Context, q Querier, c PGColumn) (string, bool, error) {
	col := pgx.Identifier{c.Name}.Sanitize()
	if c.AsText {
		return textForm(col), false, nil
	}
	t, err := readType(ctx, q, c.TypeOID, c.Dims, 0)
	if err != nil {
		return "", false, err
	}
	e, isJSON := canonical(col, t, c, 0)
	if isJSON {
		return "(" + e + ")::text", true, nil
	}
	return e, false, nil
}

// canonical returns the expression of value e's canonical form: text for scalars, jsonb for
// nested values (arrays as nested JSON arrays, composites, ranges, time zones and intervals as
// JSON arrays of their fields in the exporter's struct order, every leaf its canonical text).
func canonical(e string, t *typeNode, c PGColumn, depth int) (string, bool) {
	if t.class != "a" && !t.native() {
		return textForm(e), false
	}
	j := func(e string, t *typeNode) string {
		s, isJSON := canonical(e, t, c, depth+1)
		if isJSON {
			return s
		}
		return "to_jsonb(" + s + ")"
	}
	orNull := func(body string) string {
		return "CASE WHEN num_nulls(" + e + ") = 1 THEN NULL ELSE " + body + " END"
	}
	boolText := func(b string) string { return "to_jsonb(CASE WHEN " + b + " THEN 't' ELSE 'f' END)" }
	switch t.class {
	case "a":
		idx := make([]string, t.dims)
		for k := range idx {
			idx[k] = fmt.Sprintf("i%d_%d", depth, k)
		}
		elem := "(" + e + ")"
		for _, i := range idx {
			elem += "[" + i + "]"
		}
		var leaf string
		if t.elem.native() {
			leaf = j(elem, t.elem)
		} else {
			leaf = "to_jsonb(" + textForm(elem) + ")"
		}
		body := leaf
		for k := t.dims - 1; k >= 0; k-- {
			body = fmt.Sprintf("(SELECT coalesce(jsonb_agg(%s ORDER BY %s), '[]'::jsonb) FROM generate_subscripts(%s, %d) AS %s)", body, idx[k], e, k+1, idx[k])
		}
		return orNull(body), true
	case "c":
		parts := make([]string, len(t.fields))
		for i, f := range t.fields {
			parts[i] = j("("+e+")."+pgx.Identifier{f.name}.Sanitize(), f.typ)
		}
		return orNull("jsonb_build_array(" + strings.Join(parts, ", ") + ")"), true
	case "r":
		return orNull("jsonb_build_array(" + j("lower("+e+")", t.elem) + ", " + j("upper("+e+")", t.elem) + ", " +
			boolText("lower_inc("+e+")") + ", " + boolText("upper_inc("+e+")") + ", " + boolText("isempty("+e+")") + ")"), true
	case "m":
		r, i := fmt.Sprintf("r%d", depth), fmt.Sprintf("o%d", depth)
		return orNull(fmt.Sprintf("(SELECT coalesce(jsonb_agg(%s ORDER BY %s), '[]'::jsonb) FROM unnest(%s) WITH ORDINALITY AS u%d(%s, %s))",
			j(r, t.elem), i, e, depth, r, i)), true
	}
	switch t.oid {
	case pgtype.TimetzOID:
		return orNull("jsonb_build_array(to_jsonb((extract(epoch FROM (" + e + ")::time) * 1000000)::int8::text), " +
			"to_jsonb(extract(timezone FROM " + e + ")::int8::text))"), true
	case pgtype.IntervalOID:
		return orNull("jsonb_build_array(to_jsonb((extract(year FROM " + e + ") * 12 + extract(month FROM " + e + "))::int8::text), " +
			"to_jsonb(extract(day FROM " + e + ")::int8::text), " +
			"to_jsonb((extract(hour FROM " + e + ") * 3600000000 + extract(minute FROM " + e + ") * 60000000 + extract(microseconds FROM " + e + "))::int8::text))"), true
	}
	return scalarExpr(e, t.oid, c), false
}

// canonicalJSON re-encodes JSON text in the canonical form readback.py writes (Python's
// json.dumps with ensure_ascii=False and compact separators): arrays of strings, nulls and
// arrays only.
func canonicalJSON(s string) (string, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "", fmt.Errorf("canonical JSON of %.80q: %w", s, err)
	}
	var b strings.Builder
	if err := writeCanonical(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeCanonical(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteByte('"')
		for _, r := range v {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			default:
				if r < 0x20 {
					fmt.Fprintf(b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, x); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return fmt.Errorf("canonical JSON: unexpected %T %v", v, v)
	}
	return nil
}
