package control

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultSchema is where the control tables live unless configured otherwise.
const DefaultSchema = "public"

// DefaultAdminRole is the role whose members see every request.
const DefaultAdminRole = "pgparquet_admin"

// Migration is one numbered .sql file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order. It fails only if a file name
// is malformed (NNNN_name.sql) or two files share a version, which a test rules out.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || rest == "" {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		body, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// MigrateOptions configure Migrate. Zero values take the defaults.
type MigrateOptions struct {
	// Schema receives the control tables (default public); it is created if missing.
	Schema string
	// AdminRole names the role whose members see every request (default pgparquet_admin). The
	// role need not exist; it is recorded in parquet_export_settings on every run.
	AdminRole string
}

func (o MigrateOptions) withDefaults() MigrateOptions {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if o.AdminRole == "" {
		o.AdminRole = DefaultAdminRole
	}
	return o
}

// minControlVersion is the oldest server_version_num the control tables run on;
// invokerViewVersion is the first with security_invoker views (older servers get the
// emulation of invokerViews).
const (
	minControlVersion  = 130000
	invokerViewVersion = 150000
)

// invokerView matches a view created WITH (security_invoker = true): its queries run with the
// privileges, and row-level security, of the role that reads it.
var invokerView = regexp.MustCompile(`(?i)(CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+([a-z_][a-z0-9_]*)\s+)WITH\s*\(\s*security_invoker\s*=\s*true\s*\)\s*`)

// invokerViews prepares a migration for a server older than PostgreSQL 15, which has no
// security_invoker views: it drops the option and returns the names of the views that had it,
// for emulateInvokerView to rebuild once the migration ran.
func invokerViews(sql string) (string, []string) {
	var names []string
	for _, m := range invokerView.FindAllStringSubmatch(sql, -1) {
		names = append(names, m[2])
	}
	return invokerView.ReplaceAllString(sql, "$1"), names
}

// emulateInvokerView makes view behave as a security_invoker view on PostgreSQL 13 and 14,
// where a view reads its tables with its owner's privileges (and the owner of the control
// tables is not subject to their row-level security). The view's query moves into a SQL
// function, which runs as the role that calls it, as every function not SECURITY DEFINER
// does; the view then selects from the function. Its row type comes from a view of the same
// query, <view>__rows, that no other role may read. Names in the query are schema-qualified
// (it is read back with only pg_catalog on the search_path), so the function does not depend
// on the reader's search_path. A later migration that replaces the view replaces the query;
// running this again rebuilds the rest.
func emulateInvokerView(ctx context.Context, tx pgx.Tx, schema, view string) error {
	qualified := pgx.Identifier{schema, view}.Sanitize()
	rows := pgx.Identifier{schema, view + "__rows"}.Sanitize()
	fn := pgx.Identifier{schema, view + "__query"}.Sanitize()
	var query string
	steps := []func() error{
		func() error { _, err := tx.Exec(ctx, `SET LOCAL search_path TO pg_catalog, pg_temp`); return err },
		func() error {
			return tx.QueryRow(ctx, `SELECT pg_catalog.pg_get_viewdef($1::pg_catalog.regclass)`, qualified).Scan(&query)
		},
		func() error {
			query = strings.TrimSuffix(strings.TrimSpace(query), ";")
			_, err := tx.Exec(ctx, `CREATE OR REPLACE VIEW `+rows+` AS `+query)
			return err
		},
		func() error { _, err := tx.Exec(ctx, `REVOKE ALL ON `+rows+` FROM PUBLIC`); return err },
		func() error {
			const tag = "$pgparquet_view$"
			if strings.Contains(query, tag) {
				return fmt.Errorf("its query contains %s", tag)
			}
			_, err := tx.Exec(ctx, `CREATE OR REPLACE FUNCTION `+fn+`() RETURNS SETOF `+rows+
				` LANGUAGE sql STABLE SECURITY INVOKER AS `+tag+query+tag)
			return err
		},
		func() error {
			_, err := tx.Exec(ctx, `CREATE OR REPLACE VIEW `+qualified+` AS SELECT * FROM `+fn+`()`)
			return err
		},
		func() error {
			_, err := tx.Exec(ctx, `SET LOCAL search_path TO `+pgx.Identifier{schema}.Sanitize()+`, pg_temp`)
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("view %s as an invoker's view (PostgreSQL 13 and 14): %w", view, err)
		}
	}
	return nil
}

// Migrate brings the control tables in opts.Schema up to date and returns the versions it
// applied (none when already current). When nothing is to be applied it takes no lock at all.
// Otherwise everything happens in one transaction that first locks the migrations table (a
// table no other role may lock, unlike an advisory lock), so concurrent callers (several
// sidecars starting together) are safe: one applies, the others then find nothing to do. The
// migrations run as the connected role, which becomes the owner of the control tables; the
// sidecar should run as that role. A migration that must wait for a lock held by another
// session fails after lock_timeout if one is set; the caller may retry (LockHolders says who
// holds what it waited for). It refuses a server older than PostgreSQL 13; on 13 and 14 the
// views that are security_invoker views on 15 and later are emulated (emulateInvokerView).
func Migrate(ctx context.Context, db Querier, opts MigrateOptions) ([]int, error) {
	opts = opts.withDefaults()
	migs, err := Migrations()
	if err != nil {
		return nil, err
	}
	var version int
	var versionText string
	if err := db.QueryRow(ctx, `SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4, pg_catalog.current_setting('server_version')`).
		Scan(&version, &versionText); err != nil {
		return nil, fmt.Errorf("read the server version: %w", err)
	}
	if version < minControlVersion {
		return nil, fmt.Errorf("the control tables need PostgreSQL 13 or later, and this is PostgreSQL %s", versionText)
	}
	if current, err := upToDate(ctx, db, opts, migs); err != nil || current {
		return nil, err
	}
	for try := 0; ; try++ {
		applied, err := migrateOnce(ctx, db, opts, migs, version >= invokerViewVersion)
		var pgErr *pgconn.PgError
		// Two first starts racing to create the schema or the migrations table: the loser
		// tries again and finds them.
		if err != nil && try < 3 && errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07" || pgErr.Code == "42P06") {
			continue
		}
		return applied, err
	}
}

// upToDate reports whether every migration is recorded, and the admin role is as configured.
func upToDate(ctx context.Context, db Querier, opts MigrateOptions, migs []Migration) (bool, error) {
	var versions []int32
	var admin *string
	err := db.QueryRow(ctx, `SELECT (SELECT array_agg(version) FROM `+pgx.Identifier{opts.Schema, "parquet_export_migrations"}.Sanitize()+`),
		(SELECT value FROM `+pgx.Identifier{opts.Schema, "parquet_export_settings"}.Sanitize()+` WHERE key = 'admin_role')`).Scan(&versions, &admin)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("migrate schema %s: read applied migrations: %w", opts.Schema, err)
	}
	have := map[int]bool{}
	for _, v := range versions {
		have[int(v)] = true
	}
	for _, m := range migs {
		if !have[m.Version] {
			return false, nil
		}
	}
	return admin != nil && *admin == opts.AdminRole, nil
}

func migrateOnce(ctx context.Context, db Querier, opts MigrateOptions, migs []Migration, hasInvokerViews bool) ([]int, error) {
	schema := pgx.Identifier{opts.Schema}.Sanitize()
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate schema %s: begin: %w", opts.Schema, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	// CREATE SCHEMA IF NOT EXISTS would need CREATE on the database even when the schema
	// exists: ask first.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = $1)`, opts.Schema).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate schema %s: look up schema: %w", opts.Schema, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			return nil, fmt.Errorf("migrate schema %s: create it: %w", opts.Schema, err)
		}
	}
	steps := []string{
		`SET LOCAL search_path TO ` + schema + `, pg_temp`,
		`CREATE TABLE IF NOT EXISTS parquet_export_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`,
		// Self-conflicting, and no other role may lock this table: migrations run one at a time.
		`LOCK TABLE parquet_export_migrations IN SHARE ROW EXCLUSIVE MODE`,
	}
	for _, s := range steps {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("migrate schema %s: %s: %w", opts.Schema, firstWords(s), err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT version FROM parquet_export_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrate schema %s: read applied migrations: %w", opts.Schema, err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("migrate schema %s: read applied migrations: %w", opts.Schema, err)
	}
	have := map[int]bool{}
	for _, v := range done {
		have[int(v)] = true
	}
	var applied []int
	for _, m := range migs {
		if have[m.Version] {
			continue
		}
		sql, views := m.SQL, []string(nil)
		if !hasInvokerViews {
			sql, views = invokerViews(sql)
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("migrate schema %s: apply %04d_%s: %w", opts.Schema, m.Version, m.Name, err)
		}
		for _, v := range views {
			if err := emulateInvokerView(ctx, tx, opts.Schema, v); err != nil {
				return nil, fmt.Errorf("migrate schema %s: apply %04d_%s: %w", opts.Schema, m.Version, m.Name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO parquet_export_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("migrate schema %s: record %04d_%s: %w", opts.Schema, m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	if len(applied) > 0 {
		if err := applyDefinitions(ctx, tx, opts.Schema, hasInvokerViews); err != nil {
			return nil, fmt.Errorf("migrate schema %s: %w", opts.Schema, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO parquet_export_settings (key, value) VALUES ('admin_role', $1)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value WHERE parquet_export_settings.value <> EXCLUDED.value`, opts.AdminRole); err != nil {
		return nil, fmt.Errorf("migrate schema %s: record admin role: %w", opts.Schema, err)
	}
	if opts.Schema != "public" && len(applied) > 0 {
		if _, err := tx.Exec(ctx, `GRANT USAGE ON SCHEMA `+schema+` TO PUBLIC`); err != nil {
			return nil, fmt.Errorf("migrate schema %s: grant usage: %w", opts.Schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate schema %s: commit: %w", opts.Schema, err)
	}
	return applied, nil
}

// Migrate brings the DB's control tables up to date, recording adminRole (default
// pgparquet_admin), as Migrate does; it returns the versions applied.
func (db *DB) Migrate(ctx context.Context, adminRole string) ([]int, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return Migrate(ctx, db.q, MigrateOptions{Schema: db.schema, AdminRole: adminRole})
}

// LockHolders describes the sessions that the sessions of the connected role are waiting for
// (pid, role, what they run), for logs when a migration waits on a lock.
func (db *DB) LockHolders(ctx context.Context) (string, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var out *string
	err := db.q.QueryRow(ctx, `SELECT string_agg(DISTINCT format('pid %s (role %s, %s)', b.pid, b.usename, b.state), ', ')
		FROM pg_catalog.pg_stat_activity w, unnest(pg_catalog.pg_blocking_pids(w.pid)) bp(pid)
		JOIN pg_catalog.pg_stat_activity b ON b.pid = bp.pid
		WHERE w.usename = current_user`).Scan(&out)
	if err != nil {
		return "", fmt.Errorf("look up lock holders: %w", err)
	}
	if out == nil {
		return "", nil
	}
	return *out, nil
}

func firstWords(s string) string {
	f := strings.Fields(s)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}
