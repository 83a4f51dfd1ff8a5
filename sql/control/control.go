// Package control owns the sidecar's control tables: the numbered migrations that create them
// (embedded in the binary) and every statement the sidecar runs on them, each a method of DB
// named for what it does.
//
// The control tables live in one schema (default public, so that an unqualified
// `INSERT INTO parquet_export_requests` works from psql). Several sidecars may serve one schema;
// all coordination goes through row locks (FOR UPDATE SKIP LOCKED) and leases (heartbeat_at,
// the rows of parquet_export_leases).
package control

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier is what the queries run on: a *pgxpool.Pool, a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// OpTimeout bounds each query of a DB made by Open or OpenLeaderSession, waiting for a
// connection included, so that a server that stopped answering cannot hold a caller forever.
const OpTimeout = 10 * time.Second

// LockTimeout bounds how long a statement of a DB made by Open or OpenLeaderSession waits for
// a row lock: a role that locks its own request or schedule row (SELECT ... FOR UPDATE in an
// open transaction) then delays only the writes of that row, which fail and are retried,
// never the others'.
const LockTimeout = 2 * time.Second

// DB is the control tables of one schema and the connections that query them; its methods are
// the sidecar's queries. A DB made by Open or OpenLeaderSession owns a pool, which connects on
// demand and replaces broken connections, and is safe for concurrent use. A DB made by Over
// runs on the caller's connection, and is as safe for concurrent use as that connection.
type DB struct {
	q       Querier
	pool    *pgxpool.Pool   // nil over a caller's connection
	cfg     *pgx.ConnConfig // the caller's settings, for LISTEN sessions; nil over a connection
	timeout time.Duration   // bounds each query; 0: the caller's ctx alone
	schema  string
	ident   string // schema, quoted
}

// Open returns the control tables of schema (default public) over a pool of at most maxConns
// connections made with cfg, which is not modified. Its sessions take LockTimeout, the catalog
// alone as search_path (every statement names the control schema) and, unless cfg names one,
// the application_name "pgparquet sidecar". It connects lazily; Close closes every connection.
func Open(cfg *pgx.ConnConfig, schema string, maxConns int) (*DB, error) {
	c := withParams(cfg, map[string]string{
		"lock_timeout": fmt.Sprint(LockTimeout.Milliseconds()),
		"search_path":  "pg_catalog, pg_temp",
	})
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "pgparquet sidecar"
	}
	return open(cfg, c, schema, maxConns)
}

// OpenLeaderSession returns the control tables of schema over one session of its own for the
// scheduling lead of sidecar: named "pgparquet scheduler <sidecar>", with LockTimeout (a
// schedule row another session locked delays only that schedule) and ended by the server once
// idle for idle, so that a frozen leader's session does not outlive its lead (PostgreSQL 14
// and later: 13 has no idle_session_timeout, and there the lead's lease alone decides).
func OpenLeaderSession(cfg *pgx.ConnConfig, schema, sidecar string, idle time.Duration) (*DB, error) {
	c := withParams(cfg, map[string]string{
		"lock_timeout":     fmt.Sprint(LockTimeout.Milliseconds()),
		"application_name": "pgparquet scheduler " + sidecar,
	})
	return open(cfg, c, schema, 1, func(ctx context.Context, conn *pgx.Conn) error {
		// server_version ("13.22", "14.19 (Debian ...)") is reported at every connection.
		major, _, _ := strings.Cut(conn.PgConn().ParameterStatus("server_version"), ".")
		if v, err := strconv.Atoi(major); err == nil && v < 14 {
			return nil
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET idle_session_timeout = %d", idle.Milliseconds())); err != nil {
			return fmt.Errorf("set idle_session_timeout: %w", err)
		}
		return nil
	})
}

func withParams(cfg *pgx.ConnConfig, params map[string]string) *pgx.ConnConfig {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	for k, v := range params {
		c.RuntimeParams[k] = v
	}
	return c
}

func open(orig, cfg *pgx.ConnConfig, schema string, maxConns int, afterConnect ...func(context.Context, *pgx.Conn) error) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("control connections: %w", err)
	}
	pcfg.ConnConfig = cfg
	pcfg.MaxConns = int32(maxConns)
	pcfg.MinConns = 0
	pcfg.HealthCheckPeriod = 10 * time.Second
	if len(afterConnect) > 0 {
		pcfg.AfterConnect = afterConnect[0]
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("control connections: %w", err)
	}
	db := Over(pool, schema)
	db.pool, db.cfg, db.timeout = pool, orig.Copy(), OpTimeout
	return db, nil
}

// Over returns the control tables of schema (default public) queried on q, a connection the
// caller owns and closes; its queries are bounded by the caller's ctx alone.
func Over(q Querier, schema string) *DB {
	if schema == "" {
		schema = DefaultSchema
	}
	return &DB{q: q, schema: schema, ident: pgx.Identifier{schema}.Sanitize()}
}

// Close closes the pool's connections; over a caller's connection it does nothing.
func (db *DB) Close() {
	if db.pool != nil {
		db.pool.Close()
	}
}

// Reset closes the pool's connections, idle or not, so that the next query starts a session
// afresh; over a caller's connection it does nothing.
func (db *DB) Reset() {
	if db.pool != nil {
		db.pool.Reset()
	}
}

// Schema is the schema of the control tables.
func (db *DB) Schema() string { return db.schema }

// Channel is the LISTEN channel the triggers notify: payload "new <id>" for a request to claim,
// "cancel <id>" for a running request to stop, "schedule" when schedules change, "delete <id>"
// for a request whose files are to be deleted.
func (db *DB) Channel() string { return "pgparquet." + db.schema }

// op bounds one query by the DB's timeout.
func (db *DB) op(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.timeout)
}

// sql qualifies the control tables in s: "{s}." becomes the quoted schema.
func (db *DB) sql(s string) string { return strings.ReplaceAll(s, "{s}.", db.ident+".") }

// queryAll runs query and collects its rows with rowTo; what names the query in errors.
func queryAll[T any](ctx context.Context, db *DB, what string, rowTo pgx.RowToFunc[T], query string, args ...any) ([]T, error) {
	rows, err := db.q.Query(ctx, db.sql(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, rowTo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// requestAndAttempt is one statement that writes requests and, for each, the row of one of
// its attempts. request is an UPDATE of {s}.parquet_export_requests returning at least id,
// the rows it updated are r; set assigns the columns of the attempt (alias a) whose fence is
// the expression fence. then ends the statement: a SELECT (on r, the attempt's update then
// being a step of its own), or what follows the attempt's UPDATE ("", "RETURNING 1").
func requestAndAttempt(request, fence, set, then string) string {
	attempt := `UPDATE {s}.parquet_export_attempts a SET ` + set + `
		FROM r WHERE a.request_id = r.id AND a.fence = ` + fence
	if strings.HasPrefix(then, "SELECT") {
		return `WITH r AS (` + request + `),
		a AS (` + attempt + `)
		` + then
	}
	return `WITH r AS (` + request + `)
		` + attempt + `
		` + then
}
