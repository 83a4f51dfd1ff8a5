package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	Sources       []Source
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
	if err := checkPrivileges(ctx, q, rel, role); err != nil {
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
	return rel, nil
}

func readColumns(ctx context.Context, q Querier, oid uint32, want []string) ([]Column, error) {
	rows, err := q.Query(ctx, `SELECT a.attnum, a.attname, a.atttypid, a.atttypmod,
			format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Column, error) {
		var c Column
		err := r.Scan(&c.Attnum, &c.Name, &c.TypeOID, &c.Typmod, &c.PGType, &c.NotNull)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	for i := range all {
		if err := resolveDomain(ctx, q, &all[i]); err != nil {
			return nil, err
		}
	}
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

// resolveDomain replaces a domain type by its base type (through nested domains): COPY
// BINARY sends a domain's value in its base type's binary form.
func resolveDomain(ctx context.Context, q Querier, c *Column) error {
	for depth := 0; depth < 64; depth++ {
		var typtype string
		var base uint32
		var typmod int32
		if err := q.QueryRow(ctx, `SELECT typtype::text, typbasetype, typtypmod FROM pg_type WHERE oid = $1`, c.TypeOID).
			Scan(&typtype, &base, &typmod); err != nil {
			return fmt.Errorf("column %q: read type %d: %w", c.Name, c.TypeOID, err)
		}
		if typtype != "d" {
			return nil
		}
		c.TypeOID, c.Typmod = base, typmod
	}
	return fmt.Errorf("column %q: domain nesting too deep", c.Name)
}

func checkPrivileges(ctx context.Context, q Querier, rel *Relation, role string) error {
	who := "current_user"
	args := []any{rel.OID}
	if role != "" {
		who = "$2::text::regrole"
		args = append(args, role)
	}
	var tableOK bool
	var roleName string
	if err := q.QueryRow(ctx, "SELECT has_table_privilege("+who+", $1::oid, 'SELECT'), "+who+"::text", args...).Scan(&tableOK, &roleName); err != nil {
		return fmt.Errorf("check privileges on %s: %w", rel.Name, err)
	}
	if tableOK {
		return nil
	}
	var denied []string
	for _, c := range rel.Columns {
		var ok bool
		if err := q.QueryRow(ctx, "SELECT has_column_privilege("+who+", $1::oid, "+fmt.Sprint(c.Attnum)+"::int2, 'SELECT')", args...).Scan(&ok); err != nil {
			return fmt.Errorf("check privileges on %s.%s: %w", rel.Name, c.Ident(), err)
		}
		if !ok {
			denied = append(denied, c.Ident())
		}
	}
	if len(denied) == 0 {
		return nil
	}
	if len(denied) == len(rel.Columns) {
		return fmt.Errorf("%w: role %s may not SELECT from %s", ErrPermission, roleName, rel.Name)
	}
	return fmt.Errorf("%w: role %s may not SELECT column(s) %s of %s", ErrPermission, roleName, strings.Join(denied, ", "), rel.Name)
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
