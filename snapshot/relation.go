package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/pgarrow"
)

// Querier is the part of a connection that catalog reads need; *pgx.Conn satisfies it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Column is one column to export, as the catalog describes it.
type Column struct {
	// Name is the column name exactly as PostgreSQL stores it (not quoted).
	Name string
	// Attnum is the column's number in the requested relation.
	Attnum int16
	// TypeOID is the column's type with domains resolved to their base type: the type whose
	// binary send form COPY emits.
	TypeOID uint32
	// Typmod goes with TypeOID (a domain's typmod when the column's type is a domain).
	Typmod int32
	// PGType is format_type of the declared type, e.g. "numeric(12,2)" or a domain's name.
	PGType string
	// NotNull reports a NOT NULL constraint.
	NotNull bool
	// Dims is pg_attribute.attndims: the dimensions an array column was declared with (0 when
	// not declared, e.g. a column made by CREATE TABLE AS).
	Dims int
	// Type is the column's type tree as COPY BINARY sends it: domains resolved at every level,
	// array element types, composite attributes, range subtypes, multiranges' range types, and
	// money's fraction digits, read from the catalog inside the snapshot. Never nil after
	// Resolve.
	Type *pgarrow.TypeDesc
}

// Ident is the column name quoted for SQL.
func (c Column) Ident() string { return pgx.Identifier{c.Name}.Sanitize() }

// Source is one relation that COPY reads from.
type Source struct {
	// Name is the schema-qualified name quoted from the catalog (quote_ident), safe in SQL.
	Name string
	// Only selects FROM ONLY Name, excluding inheritance children read separately.
	Only bool
	// Pages is the number of heap pages to split into ctid ranges, measured inside the
	// snapshot; -1 for a relation without ctid (view, foreign table), read with one plain COPY.
	Pages int64
}

// Relation is a table, view, materialized view, foreign table or partitioned table resolved
// from the catalog inside the snapshot, with the sources that together hold its rows.
type Relation struct {
	OID uint32
	// Name is the schema-qualified name quoted from the catalog.
	Name string
	// Kind is pg_class.relkind: 'r' table, 'p' partitioned, 'v' view, 'm' materialized view,
	// 'f' foreign table.
	Kind    string
	Columns []Column
	// EstimatedRows sums pg_class.reltuples over the sources; -1 when never analyzed.
	EstimatedRows int64
	// ColumnPrivilegesOnly reports a role that may SELECT the exported columns but not the
	// table: each source is then read with one plain COPY, since ctid ranges need the table.
	ColumnPrivilegesOnly bool
	Sources              []Source
}

// ErrNoSuchRelation is returned (wrapped) when the table name does not resolve.
var ErrNoSuchRelation = errors.New("no such table")

// ErrPermission is returned (wrapped) when the reading role lacks SELECT on the table or on
// a requested column.
var ErrPermission = errors.New("permission denied")

// Resolve looks table up (any form regclass accepts: schema-qualified, quoted), checks that
// role (current_user when empty) may SELECT the requested columns (all when columns is empty),
// and finds the sources to read.
//
// A table with inheritance children or partitions is read through the named parent (no ONLY),
// so the parent's privileges and row-level security policies apply, with ctid ranges planned
// over the largest member. When a partition is a foreign table, ctid ranges cannot cover it:
// each member is then read on its own (FROM ONLY), heap members by ctid ranges and foreign
// ones by one plain COPY; privileges and policies are then those of each member.
func Resolve(ctx context.Context, q Querier, table string, columns []string, role string) (*Relation, error) {
	rel := &Relation{}
	var reltuples float64
	err := q.QueryRow(ctx, `SELECT c.oid, c.relkind::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.reltuples
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::text::regclass`, table).
		Scan(&rel.OID, &rel.Kind, &rel.Name, &reltuples)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000" || pgErr.Code == "42602") {
			return nil, fmt.Errorf("table %q: %w (%s)", table, ErrNoSuchRelation, pgErr.Message)
		}
		return nil, fmt.Errorf("resolve table %q: %w", table, err)
	}
	switch rel.Kind {
	case "r", "p", "v", "m", "f":
	default:
		return nil, fmt.Errorf("table %q is a relation of kind %q, which holds no rows to export", table, rel.Kind)
	}
	if rel.Columns, err = readColumns(ctx, q, rel.OID, columns); err != nil {
		return nil, fmt.Errorf("table %s: %w", rel.Name, err)
	}
	tableSelect, err := checkPrivileges(ctx, q, rel, role)
	if err != nil {
		return nil, err
	}
	if rel.Kind == "v" || rel.Kind == "f" {
		rel.Sources = []Source{{Name: rel.Name, Pages: -1}}
		rel.EstimatedRows = int64(reltuples)
		if reltuples < 0 {
			rel.EstimatedRows = -1
		}
		return rel, nil
	}
	if err := planSources(ctx, q, rel); err != nil {
		return nil, fmt.Errorf("table %s: %w", rel.Name, err)
	}
	if !tableSelect {
		// ctid ranges need SELECT on the table, not only on the columns: a role granted
		// columns gets one plain COPY of each source instead.
		for i := range rel.Sources {
			rel.Sources[i].Pages = -1
		}
		rel.ColumnPrivilegesOnly = true
	}
	return rel, nil
}

func readColumns(ctx context.Context, q Querier, oid uint32, want []string) ([]Column, error) {
	rows, err := q.Query(ctx, `SELECT a.attnum, a.attname, a.atttypid, a.atttypmod,
			format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attndims
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Attnum, &c.Name, &c.TypeOID, &c.Typmod, &c.PGType, &c.NotNull, &c.Dims)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	picked, err := pickColumns(all, want)
	if err != nil {
		return nil, err
	}
	// Only the exported columns' types are described: a column left out costs no catalog reads.
	types, err := readTypes(ctx, q, picked)
	if err != nil {
		return nil, err
	}
	for i := range picked {
		c := &picked[i]
		t, err := types.describe(ctx, c.TypeOID, c.Typmod, c.Dims, 0)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		c.Type = t
		c.TypeOID, c.Typmod = t.OID, t.Typmod
	}
	return picked, nil
}

// pickColumns returns the columns named in want, in that order, or all of them when want is
// empty.
func pickColumns(all []Column, want []string) ([]Column, error) {
	if len(want) == 0 {
		if len(all) == 0 {
			return nil, errors.New("has no columns to export")
		}
		return all, nil
	}
	byName := make(map[string]Column, len(all))
	for _, c := range all {
		byName[c.Name] = c
	}
	picked := make([]Column, 0, len(want))
	seen := map[string]bool{}
	for _, name := range want {
		c, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("no column %q", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("column %q named twice", name)
		}
		seen[name] = true
		picked = append(picked, c)
	}
	return picked, nil
}

// checkPrivileges fails unless role may SELECT every exported column; it reports whether role
// may SELECT the whole table.
func checkPrivileges(ctx context.Context, q Querier, rel *Relation, role string) (bool, error) {
	who := "current_user"
	args := []any{rel.OID}
	if role != "" {
		who = "$2::text::regrole"
		args = append(args, role)
	}
	var tableOK bool
	var roleName string
	if err := q.QueryRow(ctx, "SELECT has_table_privilege("+who+", $1::oid, 'SELECT'), "+who+"::text", args...).Scan(&tableOK, &roleName); err != nil {
		return false, fmt.Errorf("check privileges on %s: %w", rel.Name, err)
	}
	if tableOK {
		return true, nil
	}
	// Every exported column's privilege in one query.
	attnums := make([]int16, len(rel.Columns))
	for i, c := range rel.Columns {
		attnums[i] = c.Attnum
	}
	rows, err := q.Query(ctx, "SELECT a.attnum, pg_catalog.has_column_privilege("+who+", $1::pg_catalog.oid, a.attnum, 'SELECT')"+
		" FROM pg_catalog.unnest($"+fmt.Sprint(len(args)+1)+"::pg_catalog.int2[]) AS a(attnum)", append(args, attnums)...)
	if err != nil {
		return false, fmt.Errorf("check privileges on %s: %w", rel.Name, err)
	}
	allowed := make(map[int16]bool, len(attnums))
	var attnum int16
	var ok bool
	if _, err := pgx.ForEachRow(rows, []any{&attnum, &ok}, func() error {
		allowed[attnum] = ok
		return nil
	}); err != nil {
		return false, fmt.Errorf("check privileges on %s: %w", rel.Name, err)
	}
	var denied []string
	for _, c := range rel.Columns {
		if !allowed[c.Attnum] {
			denied = append(denied, c.Ident())
		}
	}
	if len(denied) == 0 {
		return false, nil
	}
	if len(denied) == len(rel.Columns) {
		return false, fmt.Errorf("%w: role %s may not SELECT from %s", ErrPermission, roleName, rel.Name)
	}
	return false, fmt.Errorf("%w: role %s may not SELECT column(s) %s of %s", ErrPermission, roleName, strings.Join(denied, ", "), rel.Name)
}

func planSources(ctx context.Context, q Querier, rel *Relation) error {
	rows, err := q.Query(ctx, `WITH RECURSIVE tree(relid) AS (
			SELECT $1::oid
			UNION ALL
			SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.relid)
		SELECT c.relkind::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
			CASE WHEN c.relkind IN ('r', 'm') THEN pg_relation_size(c.oid) / current_setting('block_size')::int8 ELSE 0 END,
			c.reltuples::int8
		FROM tree JOIN pg_class c ON c.oid = tree.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		ORDER BY c.oid`, rel.OID)
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	members, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (member, error) {
		var m member
		err := r.Scan(&m.kind, &m.name, &m.pages, &m.tuples)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("list members: %w", err)
	}
	var maxPages int64
	hasForeign := false
	for _, m := range members {
		maxPages = max(maxPages, m.pages)
		hasForeign = hasForeign || m.kind == "f"
	}
	rel.EstimatedRows = estimateRows(members)
	if !hasForeign {
		rel.Sources = []Source{{Name: rel.Name, Pages: maxPages}}
		return nil
	}
	for _, m := range members {
		switch m.kind {
		case "r", "m":
			rel.Sources = append(rel.Sources, Source{Name: m.name, Only: true, Pages: m.pages})
		case "f":
			rel.Sources = append(rel.Sources, Source{Name: m.name, Only: true, Pages: -1})
		}
	}
	return nil
}

// member is one relation of an inheritance or partition tree.
type member struct {
	kind, name    string
	pages, tuples int64
}

// estimateRows sums reltuples over the members that hold rows; -1 if any was never analyzed.
func estimateRows(members []member) int64 {
	var n int64
	for _, m := range members {
		if m.kind == "p" {
			continue
		}
		if m.tuples < 0 {
			return -1
		}
		n += m.tuples
	}
	return n
}

// maxTypeDepth bounds the nesting of domains, arrays, composites and ranges followed when
// describing a type.
const maxTypeDepth = 64

// errTypeTooDeep is a column whose type nests deeper than maxTypeDepth.
var errTypeTooDeep = fmt.Errorf("its type nests domains, arrays, composites or ranges more than %d deep, which is not exported: leave the column out (--columns)", maxTypeDepth)

// typeReader describes the types of one Resolve from the catalog rows readTypes fetched in one
// query, caching money's scale.
type typeReader struct {
	q          Querier
	types      map[typeKey]*typeRow
	moneyScale *int32
}

// typeKey is a type as one use of it sees it: the same type with another typmod formats (and
// may decode) differently.
type typeKey struct {
	oid    uint32
	typmod int32
}

// typeRow is what the catalog says of one type, with a composite's live attributes in attnum
// order.
type typeRow struct {
	typtype, name, category string
	base, elem, relid       uint32
	subtype, rangeOfMulti   uint32
	domainTypmod, typlen    int32
	pgType                  string
	attNames                []string
	attTypes                []uint32
	attTypmods              []int32
	attDims                 []int32
	output                  string // the type's output function, schema-qualified
}

// rangeMultiOID is pg_range r's rngmultitypid, read so that the query also runs on PostgreSQL
// 13, which has no multiranges and no such column (NULL there).
const rangeMultiOID = `(pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'rngmultitypid')::pg_catalog.oid`

// typeTreeSQL reads every type reachable from the ($1, $2) pairs of type OIDs and typmods:
// domains' base types (with the domain's typmod where the use has none), arrays' element types
// (with the array's typmod), composites' live attributes, ranges' subtypes and multiranges'
// range types, each with the typmod it is used with. UNION keeps each (type, typmod) once, so
// the recursion ends even on a catalog that loops.
const typeTreeSQL = `WITH RECURSIVE node(oid, typmod) AS (
		SELECT u.oid, u.typmod FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.oid[]), pg_catalog.unnest($2::pg_catalog.int4[])) AS u(oid, typmod)
		UNION
		SELECT x.oid, x.typmod FROM node n JOIN pg_catalog.pg_type t ON t.oid = n.oid
		CROSS JOIN LATERAL (
			SELECT t.typbasetype, CASE WHEN n.typmod < 0 THEN t.typtypmod ELSE n.typmod END WHERE t.typtype = 'd'
			UNION ALL
			SELECT t.typelem, n.typmod WHERE t.typtype <> 'd' AND t.typcategory = 'A' AND t.typelem <> 0 AND t.typlen = -1
			UNION ALL
			SELECT a.atttypid, a.atttypmod FROM pg_catalog.pg_attribute a
				WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
			UNION ALL
			SELECT r.rngsubtype, -1 FROM pg_catalog.pg_range r WHERE t.typtype = 'r' AND r.rngtypid = t.oid
			UNION ALL
			SELECT r.rngtypid, -1 FROM pg_catalog.pg_range r WHERE t.typtype = 'm' AND ` + rangeMultiOID + ` = t.oid
		) AS x(oid, typmod))
	SELECT n.oid, n.typmod, t.typtype::pg_catalog.text, t.typname::pg_catalog.text, t.typcategory::pg_catalog.text,
		t.typbasetype, t.typelem, t.typrelid,
		coalesce((SELECT rngsubtype FROM pg_catalog.pg_range WHERE rngtypid = t.oid), 0),
		coalesce((SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE ` + rangeMultiOID + ` = t.oid), 0),
		t.typtypmod, t.typlen::pg_catalog.int4, pg_catalog.format_type(t.oid, n.typmod),
		a.names, a.types, a.typmods, a.dims,
		pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname)
	FROM node n JOIN pg_catalog.pg_type t ON t.oid = n.oid
	JOIN pg_catalog.pg_proc p ON p.oid = t.typoutput JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
	LEFT JOIN LATERAL (
		SELECT pg_catalog.array_agg(attname::pg_catalog.text ORDER BY attnum), pg_catalog.array_agg(atttypid ORDER BY attnum),
			pg_catalog.array_agg(atttypmod ORDER BY attnum), pg_catalog.array_agg(attndims::pg_catalog.int4 ORDER BY attnum)
		FROM pg_catalog.pg_attribute WHERE t.typtype = 'c' AND attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped
	) AS a(names, types, typmods, dims) ON true`

// readTypes reads the type trees of cols' types in one query.
func readTypes(ctx context.Context, q Querier, cols []Column) (*typeReader, error) {
	oids := make([]uint32, len(cols))
	typmods := make([]int32, len(cols))
	for i, c := range cols {
		oids[i], typmods[i] = c.TypeOID, c.Typmod
	}
	rows, err := q.Query(ctx, typeTreeSQL, oids, typmods)
	if err != nil {
		return nil, fmt.Errorf("read types: %w", err)
	}
	r := &typeReader{q: q, types: map[typeKey]*typeRow{}}
	var k typeKey
	var t typeRow
	if _, err := pgx.ForEachRow(rows, []any{&k.oid, &k.typmod, &t.typtype, &t.name, &t.category, &t.base, &t.elem, &t.relid,
		&t.subtype, &t.rangeOfMulti, &t.domainTypmod, &t.typlen, &t.pgType, &t.attNames, &t.attTypes, &t.attTypmods, &t.attDims, &t.output}, func() error {
		row := t
		r.types[k] = &row
		t = typeRow{}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read types: %w", err)
	}
	return r, nil
}

// describe builds the type tree of type oid with typmod (and dims, for an array column's
// declared dimensions) from the rows readTypes fetched: domains are resolved to their base type
// (a domain's typmod applies when typmod is -1), arrays get their element type, composites
// their live attributes, ranges their subtype and multiranges their range type.
func (r *typeReader) describe(ctx context.Context, oid uint32, typmod int32, dims int, depth int) (*pgarrow.TypeDesc, error) {
	sendOID := oid
	for ; depth < maxTypeDepth; depth++ {
		row, ok := r.types[typeKey{oid, typmod}]
		if !ok {
			return nil, fmt.Errorf("read type %d: %w", oid, pgx.ErrNoRows)
		}
		if row.typtype == "d" {
			oid = row.base
			if typmod < 0 {
				typmod = row.domainTypmod
			}
			continue
		}
		var err error
		t := &pgarrow.TypeDesc{OID: oid, SendOID: sendOID, Typmod: typmod, Name: row.name, PGType: row.pgType, Output: row.output}
		switch {
		case row.category == "A" && row.elem != 0 && row.typlen == -1:
			t.Class, t.Dims = pgarrow.ClassArray, max(dims, 1)
			if t.Elem, err = r.describe(ctx, row.elem, typmod, 0, depth+1); err != nil {
				return nil, err
			}
			t.Elem.SendOID = row.elem
		case row.typtype == "c":
			t.Class = pgarrow.ClassComposite
			if t.Fields, err = r.fields(ctx, row, depth); err != nil {
				if errors.Is(err, errTypeTooDeep) {
					return nil, err // one line, not one step per level
				}
				return nil, fmt.Errorf("type %s: %w", row.pgType, err)
			}
		case row.typtype == "e":
			t.Class = pgarrow.ClassEnum
		case row.typtype == "r" && row.subtype != 0:
			t.Class = pgarrow.ClassRange
			if t.Elem, err = r.describe(ctx, row.subtype, -1, 0, depth+1); err != nil {
				return nil, err
			}
			t.Elem.SendOID = 0
		case row.typtype == "m" && row.rangeOfMulti != 0:
			t.Class = pgarrow.ClassMultirange
			if t.Elem, err = r.describe(ctx, row.rangeOfMulti, -1, 0, depth+1); err != nil {
				return nil, err
			}
			t.Elem.SendOID = 0
		case row.name == "money" && oid == pgarrow.MoneyOID:
			if t.MoneyScale, err = r.money(ctx); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	return nil, errTypeTooDeep
}

// fields describes the live attributes of a composite type.
func (r *typeReader) fields(ctx context.Context, row *typeRow, depth int) ([]pgarrow.FieldDesc, error) {
	out := make([]pgarrow.FieldDesc, len(row.attNames))
	for i, name := range row.attNames {
		t, err := r.describe(ctx, row.attTypes[i], row.attTypmods[i], int(row.attDims[i]), depth+1)
		if err != nil {
			if errors.Is(err, errTypeTooDeep) {
				return nil, err
			}
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		out[i] = pgarrow.FieldDesc{Name: name, Type: t}
	}
	return out, nil
}

// money reads the number of fraction digits money values have in this session (lc_monetary's):
// casting money to numeric gives exactly that scale.
func (r *typeReader) money(ctx context.Context) (int32, error) {
	if r.moneyScale == nil {
		var s int32
		if err := r.q.QueryRow(ctx, `SELECT scale('0'::money::numeric)`).Scan(&s); err != nil {
			return 0, fmt.Errorf("read money's fraction digits: %w", err)
		}
		r.moneyScale = &s
	}
	return *r.moneyScale, nil
}

// DescribeType reads the type tree of type oid with typmod from the catalog as it is now, for a
// column known only from elsewhere (logical replication describes columns a table may have
// dropped since); dims is the column's declared array dimensions, 0 when not known.
func DescribeType(ctx context.Context, q Querier, oid uint32, typmod int32, dims int) (*pgarrow.TypeDesc, error) {
	r, err := readTypes(ctx, q, []Column{{TypeOID: oid, Typmod: typmod}})
	if err != nil {
		return nil, err
	}
	return r.describe(ctx, oid, typmod, dims, 0)
}
