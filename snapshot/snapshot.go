// Package snapshot reads one PostgreSQL relation consistently over several connections.
//
// A coordinator transaction locks the relation, exports a snapshot (pg_export_snapshot) and
// stays open until every COPY is done; every worker connection imports the snapshot with SET
// TRANSACTION SNAPSHOT, so all workers see exactly the same rows whatever other sessions
// commit meanwhile. The relation is split into ctid page
// ranges, and each range is streamed with COPY ... TO STDOUT (FORMAT BINARY) into buffers from a
// bounded pool.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Snapshot is an exported snapshot and the coordinator transaction that keeps it alive. The
// coordinator holds an ACCESS SHARE lock on the relation, taken before the snapshot, so no DDL
// (DROP/ADD COLUMN, ALTER TYPE, TRUNCATE) can land between the catalog reads and the COPYs.
// It must stay open until every COPY is done: on a hot standby, replay of a cleanup record
// waits only for sessions whose snapshots are registered in time, and a session that imported
// a snapshot whose exporter already committed may lose rows. Its connection is used for
// catalog reads and planning, which then see the same snapshot. A Snapshot is not safe for
// concurrent use.
type Snapshot struct {
	// ID is the snapshot identifier that workers import (e.g. "00000003-0000001B-1").
	ID string
	// LSN is the WAL position at the snapshot: pg_current_wal_lsn() on a primary,
	// pg_last_wal_replay_lsn() on a standby.
	LSN string
	// ServerVersion is server_version_num, e.g. 150018.
	ServerVersion int
	// InRecovery reports a hot standby.
	InRecovery bool
	// Relation is the locked relation's schema-qualified name, quoted from the catalog.
	Relation string
	// RelOID is the locked relation's OID.
	RelOID uint32
	// Locked reports the ACCESS SHARE lock: false for materialized views, foreign tables and
	// a role with column privileges only, which PostgreSQL does not let lock the table.
	Locked bool

	conn *pgx.Conn
}

// ExportOptions say what the coordinator locks and as whom it runs.
type ExportOptions struct {
	// Table is the relation to export, in any form regclass accepts; it is resolved with the
	// connection's own search_path, once, before the snapshot.
	Table string
	// Role, when set, is assumed (SET ROLE) before anything else, so that the table is
	// resolved, locked and read with that role's privileges.
	Role string
	// Import, when set, is a snapshot exported elsewhere (CREATE_REPLICATION_SLOT ...
	// EXPORT_SNAPSHOT on a replication connection) that the coordinator imports instead of
	// exporting its own; its exporter must keep it alive until Export returns. The lock is
	// then taken after the snapshot: Export fails when the relation was rewritten (ALTER
	// TYPE, VACUUM FULL, CLUSTER, TRUNCATE) between the two, which the snapshot would read as
	// empty.
	Import string
	// ImportLSN is the WAL position of Import (the slot's consistent point), reported as
	// Snapshot.LSN.
	ImportLSN string
}

// Export connects with cfg, resolves and locks opts.Table (ACCESS SHARE) in a REPEATABLE READ
// READ ONLY transaction and exports its snapshot. The caller must call Release once every
// COPY of the export is done, and treat Release's error as the export's.
func Export(ctx context.Context, cfg *pgx.ConnConfig, opts ExportOptions) (*Snapshot, error) {
	conn, err := Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	if err := checkServerVersion(conn); err != nil {
		return nil, errors.Join(err, closeConn(conn))
	}
	s := &Snapshot{conn: conn}
	if err := s.begin(ctx, opts); err != nil {
		return nil, errors.Join(err, closeConn(conn))
	}
	return s, nil
}

// Supported server versions: exports are tested on PostgreSQL 13 to 18 (make test-matrix).
const (
	minServerMajor = 13
	maxServerMajor = 18
)

// ErrServerVersion is wrapped by the error of an export from a server older than
// minServerMajor.
var ErrServerVersion = errors.New("server version not supported")

// checkServerVersion refuses a server older than minServerMajor, on which exports are not
// tested. Servers newer than maxServerMajor are read, untested.
func checkServerVersion(conn *pgx.Conn) error {
	v := conn.PgConn().ParameterStatus("server_version")
	major, err := strconv.Atoi(strings.SplitN(strings.TrimLeftFunc(v, unicode.IsSpace), ".", 2)[0])
	if err == nil && major < minServerMajor {
		return fmt.Errorf("%w: PostgreSQL %s; pgparquet reads PostgreSQL %d to %d", ErrServerVersion, v, minServerMajor, maxServerMajor)
	}
	return nil
}

func (s *Snapshot) begin(ctx context.Context, opts ExportOptions) error {
	conn := s.conn
	// The coordinator idles while the workers copy: a server-wide idle-in-transaction timeout
	// must not end the transaction that keeps the snapshot (and the lock) alive.
	if _, err := conn.Exec(ctx, "SET idle_in_transaction_session_timeout = 0"); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if opts.Role != "" {
		if _, err := conn.Exec(ctx, "SET ROLE "+pgx.Identifier{opts.Role}.Sanitize()); err != nil {
			return fmt.Errorf("coordinator: set role %s: %w", opts.Role, err)
		}
	}
	var kind, searchPath string
	err := conn.QueryRow(ctx, `SELECT pg_catalog.current_setting('search_path'), c.oid, c.relkind::pg_catalog.text,
			pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
		WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.text::pg_catalog.regclass`, opts.Table).Scan(&searchPath, &s.RelOID, &kind, &s.Relation)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000" || pgErr.Code == "42602" || pgErr.Code == "42601") {
			return fmt.Errorf("table %q: %w (%s)", opts.Table, ErrNoSuchRelation, pgErr.Message)
		}
		return fmt.Errorf("resolve table %q: %w", opts.Table, err)
	}
	// The catalog comes first and temporary objects last, so that whatever the exporter runs
	// here resolves to pg_catalog's objects, while format_type still names a type as the
	// session's own search_path sees it.
	path := "pg_catalog, pg_temp"
	if strings.TrimSpace(searchPath) != "" {
		path = "pg_catalog, " + searchPath + ", pg_temp"
	}
	stmts := []string{
		"SET search_path = " + path,
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	}
	if opts.Import != "" {
		stmts = append(stmts, "SET TRANSACTION SNAPSHOT "+quoteLiteral(opts.Import))
	}
	for _, stmt := range stmts {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("coordinator: %s: %w", stmt, err)
		}
	}
	// LOCK TABLE takes tables, partitioned tables and views (and, recursively, what they
	// read); PostgreSQL refuses it on materialized and foreign tables, and to a role with
	// only column privileges. Without the lock the export goes on, and the privilege check
	// after it says exactly what is missing.
	switch kind {
	case "r", "p", "v":
		if err := s.lock(ctx); err != nil {
			return err
		}
	}
	// The snapshot is taken by this first query, after the lock was granted: every DDL on
	// the relation either committed before it (and is visible) or waits for the export.
	var stillOID *uint32
	err = conn.QueryRow(ctx, `SELECT pg_export_snapshot(),
		(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
		current_setting('server_version_num')::int4, pg_is_in_recovery(), to_regclass($1)::oid`, s.Relation).
		Scan(&s.ID, &s.LSN, &s.ServerVersion, &s.InRecovery, &stillOID)
	if err != nil {
		return fmt.Errorf("coordinator: export snapshot: %w", err)
	}
	if stillOID == nil || *stillOID != s.RelOID {
		return fmt.Errorf("table %s was dropped, renamed or replaced while the export started; run it again", s.Relation)
	}
	if opts.Import != "" {
		return s.useImported(ctx, opts)
	}
	return nil
}

// useImported reports the imported snapshot's LSN (workers import the coordinator's own
// export of it, which lives as long as the coordinator). A relation rewritten after the snapshot was taken but before the lock has a new
// file whose rows the snapshot cannot see: the snapshot's pg_class row then names another
// file than the current catalog (pg_relation_filenode reads the latest).
func (s *Snapshot) useImported(ctx context.Context, opts ExportOptions) error {
	s.LSN = opts.ImportLSN
	var inSnapshot, current *uint32
	if err := s.conn.QueryRow(ctx, `SELECT relfilenode, pg_relation_filenode(oid) FROM pg_class WHERE oid = $1`, s.RelOID).
		Scan(&inSnapshot, &current); err != nil {
		return fmt.Errorf("coordinator: check the imported snapshot: %w", err)
	}
	if inSnapshot != nil && *inSnapshot != 0 && (current == nil || *inSnapshot != *current) {
		return fmt.Errorf("table %s was rewritten (ALTER TYPE, VACUUM FULL, CLUSTER, TRUNCATE) while the export started; run it again", s.Relation)
	}
	return nil
}

// lock takes ACCESS SHARE on the relation inside a savepoint, so that a refusal for lack of a
// table privilege leaves the transaction usable.
func (s *Snapshot) lock(ctx context.Context) error {
	conn := s.conn
	if _, err := conn.Exec(ctx, "SAVEPOINT pgparquet_lock"); err != nil {
		return fmt.Errorf("coordinator: savepoint: %w", err)
	}
	_, err := conn.Exec(ctx, "LOCK TABLE "+s.Relation+" IN ACCESS SHARE MODE")
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		// The savepoint outlives ROLLBACK TO; a snapshot cannot be exported from inside it.
		for _, stmt := range []string{"ROLLBACK TO SAVEPOINT pgparquet_lock", "RELEASE SAVEPOINT pgparquet_lock"} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("coordinator: %s: %w", stmt, err)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("coordinator: lock %s: %w", s.Relation, err)
	}
	s.Locked = true
	if _, err := conn.Exec(ctx, "RELEASE SAVEPOINT pgparquet_lock"); err != nil {
		return fmt.Errorf("coordinator: release savepoint: %w", err)
	}
	return nil
}

// Conn is the coordinator connection, inside the snapshot's transaction.
func (s *Snapshot) Conn() *pgx.Conn { return s.conn }

// Locate says where row n (0-based, in stream order) of task t's COPY lies, for an error
// message: "ctid (12,5)" and, when the source has a primary key, its values ("primary key
// (id)=(42)"). The coordinator reads it in the snapshot as the same role, so it sees the rows
// the worker saw, in the same physical order (a TID range scan). "" for a task without a ctid
// range. Call it only while no other query runs on the coordinator.
func (s *Snapshot) Locate(ctx context.Context, t Task, n int64) (string, error) {
	if t.Plain || s.conn == nil || n < 0 {
		return "", nil
	}
	if err := s.scanInStreamOrder(ctx); err != nil {
		return "", fmt.Errorf("locate row %d of %s: %w", n, t, err)
	}
	var key string
	if err := s.conn.QueryRow(ctx, `SELECT coalesce(pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n), '')
		FROM pg_catalog.pg_index i CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(att, n)
		JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) k.att
		WHERE i.indrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass AND i.indisprimary`, t.Source.Name).Scan(&key); err != nil {
		return "", fmt.Errorf("locate row %d of %s: %w", n, t, err)
	}
	keyExpr := "NULL::pg_catalog.text"
	if key != "" {
		keyExpr = "ROW(" + key + ")::pg_catalog.text"
	}
	var ctid string
	var keyVal *string
	if err := s.conn.QueryRow(ctx, t.selectSQL("ctid::pg_catalog.text, "+keyExpr)+" OFFSET $1 LIMIT 1", n).Scan(&ctid, &keyVal); err != nil {
		return "", fmt.Errorf("locate row %d of %s: %w", n, t, err)
	}
	where := "ctid " + ctid
	if keyVal != nil {
		where += ", primary key (" + key + ")=" + *keyVal
	}
	return where, nil
}

// scanInStreamOrder makes the coordinator's scans return rows in the order a task's COPY
// streamed them, so that row n of a task can be found with OFFSET: a parallel or synchronized
// scan would not.
func (s *Snapshot) scanInStreamOrder(ctx context.Context) error {
	_, err := s.conn.Exec(ctx, "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL synchronize_seqscans = off")
	return err
}

// InvalidUTF8Column returns the first of columns whose text form in row n (0-based, in stream
// order) of task t is not valid UTF-8, reading the bytes as they are stored (convert_to from a
// SQL_ASCII database converts nothing); "" when none is, or for a task without a ctid range.
// Call it only while no other query runs on the coordinator.
func (s *Snapshot) InvalidUTF8Column(ctx context.Context, t Task, n int64, columns []string) (string, error) {
	if t.Plain || s.conn == nil || n < 0 || len(columns) == 0 {
		return "", nil
	}
	if err := s.scanInStreamOrder(ctx); err != nil {
		return "", fmt.Errorf("find the column that is not UTF-8 in row %d of %s: %w", n, t, err)
	}
	exprs := make([]string, len(columns))
	for i, c := range columns {
		exprs[i] = "pg_catalog.convert_to(" + pgx.Identifier{c}.Sanitize() + "::pg_catalog.text, 'SQL_ASCII')"
	}
	values := make([][]byte, len(columns))
	dest := make([]any, len(columns))
	for i := range values {
		dest[i] = &values[i]
	}
	if err := s.conn.QueryRow(ctx, t.selectSQL(strings.Join(exprs, ", "))+" OFFSET $1 LIMIT 1", n).Scan(dest...); err != nil {
		return "", fmt.Errorf("find the column that is not UTF-8 in row %d of %s: %w", n, t, err)
	}
	for i, v := range values {
		if !utf8.Valid(v) {
			return columns[i], nil
		}
	}
	return "", nil
}

// Release ends the coordinator transaction and closes its connection; call it once every
// COPY of the export is done. Its error (the transaction was aborted, for instance by a
// conflict with recovery on a standby, or the connection was lost) means the snapshot may
// not have been protected for the whole export: the export must fail.
func (s *Snapshot) Release(ctx context.Context) error {
	if s.conn == nil {
		return nil
	}
	conn := s.conn
	s.conn = nil
	tag, err := conn.Exec(ctx, "COMMIT")
	switch {
	case err != nil:
		err = fmt.Errorf("coordinator: the snapshot's transaction could not commit: %w", err)
	case tag.String() != "COMMIT":
		err = fmt.Errorf("coordinator: the snapshot's transaction was aborted (%s)", tag.String())
	}
	return errors.Join(err, closeConn(conn))
}

// Abort ends the coordinator transaction without checking it, for exports that already
// failed.
func (s *Snapshot) Abort() {
	if s.conn == nil {
		return
	}
	conn := s.conn
	s.conn = nil
	closeConn(conn) //nolint:errcheck // the export already failed; closing ends the transaction
}

// Connect opens one connection tagged with application_name pgparquet (unless cfg sets one),
// so that DBAs can tell the exporter's sessions apart in pg_stat_activity, with the
// sessionSettings that fix every text form.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "pgparquet"
	}
	// Text forms (of types exported as text, and inside them) must not depend on settings a
	// database, role, postgresql.conf or PGOPTIONS chose: startup parameters override those.
	for k, v := range sessionSettings {
		c.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return nil, &connectError{msg: fmt.Sprintf("connect to %s:%d/%s as %s: %s", cfg.Host, cfg.Port, cfg.Database, cfg.User, ConnectReason(err)), err: err}
	}
	return conn, nil
}

// connectError is a failed connection, said in one line; it wraps pgx's error.
type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.err }

// ConnectReason says in one line why a connection failed. pgx reports every attempt it made,
// one per line: with sslmode prefer (the default) against a server without TLS, the refusal
// of TLS comes first and hides the real reason (a wrong password, say) behind it. The reason
// is the last attempt that is not such a refusal, without pgx's address prefixes.
func ConnectReason(err error) string {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return strings.Join(strings.Fields(err.Error()), " ")
	}
	attempts := []error{ce.Unwrap()}
	if joined, ok := ce.Unwrap().(interface{ Unwrap() []error }); ok {
		attempts = joined.Unwrap()
	}
	chosen := attempts[len(attempts)-1]
	for i := len(attempts) - 1; i >= 0; i-- {
		if !strings.Contains(attempts[i].Error(), "server refused TLS connection") {
			chosen = attempts[i]
			break
		}
	}
	if inner := errors.Unwrap(chosen); inner != nil {
		chosen = inner // pgx's "host:port (name):" prefix repeats what the caller says
	}
	return strings.Join(strings.Fields(chosen.Error()), " ")
}

// sessionSettings are the settings of every session that reads an export: each fixes what a
// value's text form is. COPY BINARY sends text in the client encoding (Arrow strings must be
// UTF-8); timestamps print as ISO in UTC, intervals in PostgreSQL's own style, floats with
// every digit they need to read back exactly (1 or more; 0 and below round), bytea as hex.
var sessionSettings = map[string]string{
	"client_encoding":    "UTF8",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
}

func closeConn(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := conn.Close(ctx); err != nil {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings on, which every
// supported PostgreSQL has by default; a backslash is then an ordinary character).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
