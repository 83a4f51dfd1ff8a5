package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrLeaseLost is returned (wrapped) by the writes of a running request that find it no longer
// held by the caller: its lease lapsed and it was re-queued (or failed) by another sidecar.
// The caller must stop its export and write nothing more for it.
var ErrLeaseLost = errors.New("lease lost")

// Queries runs the sidecar's statements on the control tables of one schema. It holds no
// connection: every method takes the DB to run on, so it is safe for concurrent use.
type Queries struct {
	schema string
	ident  string // schema, quoted
}

// New returns the queries for the control tables in schema (default public).
func New(schema string) *Queries {
	if schema == "" {
		schema = DefaultSchema
	}
	return &Queries{schema: schema, ident: pgx.Identifier{schema}.Sanitize()}
}

// Schema is the schema of the control tables.
func (q *Queries) Schema() string { return q.schema }

// Channel is the LISTEN channel the triggers notify: payload "new <id>" for a request to claim,
// "cancel <id>" for a running request to stop, "schedule" when schedules change.
func (q *Queries) Channel() string { return "pgparquet." + q.schema }

// sql qualifies the control tables in s: "{s}." becomes the quoted schema.
func (q *Queries) sql(s string) string { return strings.ReplaceAll(s, "{s}.", q.ident+".") }

// Request is a claimed request: what to export and the lease under which to do it.
type Request struct {
	ID int64
	// TableName is the name as requested; Relation is the table's current schema-qualified,
	// quoted name, empty when the table was dropped since the request.
	TableName   string
	Relation    string
	Columns     []string
	Compression string // empty: the sidecar's default
	Parallel    int    // 0: the sidecar's default
	OutputPath  string // empty: the sidecar chooses
	Priority    int
	Requester   string
	Attempt     int
	MaxAttempts int
	Lease       Lease
}

// Lease identifies one attempt at a request by one sidecar; every write of a running request
// is conditional on it.
type Lease struct {
	ID      int64
	Sidecar string
	Attempt int
}

// Claim takes the queued request of highest priority (oldest first) for sidecar, marks it
// running with a fresh heartbeat and counts an attempt. It returns nil, nil when nothing is
// queued. Rows locked by a concurrent Claim are skipped, so several sidecars never take the
// same request.
func (q *Queries) Claim(ctx context.Context, db DB, sidecar string) (*Request, error) {
	var r Request
	var compression, outputPath, relation *string
	var parallel *int32
	var attempt, maxAttempts, priority int32
	err := db.QueryRow(ctx, q.sql(`UPDATE {s}.parquet_export_requests r
		SET state = 'running', claimed_by = $1, heartbeat_at = now(), started_at = now(),
			attempt = r.attempt + 1, progress_rows = NULL, progress_copy_bytes = NULL,
			estimated_rows = NULL, tasks_done = NULL, tasks = NULL, progress_at = NULL, error = NULL
		WHERE r.id = (SELECT id FROM {s}.parquet_export_requests WHERE state = 'queued'
			ORDER BY priority DESC, id FOR UPDATE SKIP LOCKED LIMIT 1)
		RETURNING r.id, r.table_name,
			(SELECT format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.relid),
			r.columns, r.compression, r.parallel, r.output_path, r.priority, r.requester,
			r.attempt, r.max_attempts`), sidecar).
		Scan(&r.ID, &r.TableName, &relation, &r.Columns, &compression, &parallel, &outputPath,
			&priority, &r.Requester, &attempt, &maxAttempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim a request: %w", err)
	}
	r.Relation, r.Compression, r.OutputPath = deref(relation), deref(compression), deref(outputPath)
	if parallel != nil {
		r.Parallel = int(*parallel)
	}
	r.Priority, r.Attempt, r.MaxAttempts = int(priority), int(attempt), int(maxAttempts)
	r.Lease = Lease{ID: r.ID, Sidecar: sidecar, Attempt: r.Attempt}
	return &r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Progress is how far a running export has got.
type Progress struct {
	Rows          int64
	CopyBytes     int64
	EstimatedRows int64 // -1: unknown
	TasksDone     int
	Tasks         int
}

// Heartbeat renews the lease (and records p when not nil) and reports whether cancellation was
// requested. It returns ErrLeaseLost when the request is no longer running under l.
func (q *Queries) Heartbeat(ctx context.Context, db DB, l Lease, p *Progress) (cancelRequested bool, err error) {
	var rows, copyBytes, estimated *int64
	var done, tasks *int
	if p != nil {
		rows, copyBytes, done, tasks = &p.Rows, &p.CopyBytes, &p.TasksDone, &p.Tasks
		if p.EstimatedRows >= 0 {
			estimated = &p.EstimatedRows
		}
	}
	err = db.QueryRow(ctx, q.sql(`UPDATE {s}.parquet_export_requests
		SET heartbeat_at = now(),
			progress_rows = coalesce($4, progress_rows), progress_copy_bytes = coalesce($5, progress_copy_bytes),
			estimated_rows = CASE WHEN $4::bigint IS NULL THEN estimated_rows ELSE $6 END,
			tasks_done = coalesce($7, tasks_done), tasks = coalesce($8, tasks),
			progress_at = CASE WHEN $4::bigint IS NULL THEN progress_at ELSE now() END
		WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND state = 'running'
		RETURNING cancel_requested_at IS NOT NULL`), l.ID, l.Sidecar, l.Attempt, rows, copyBytes, estimated, done, tasks).
		Scan(&cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("heartbeat of request %d: %w", l.ID, ErrLeaseLost)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat of request %d: %w", l.ID, err)
	}
	return cancelRequested, nil
}

// File is one Parquet file of a finished export; Path is relative to the sidecar's output root.
type File struct {
	Path   string
	Rows   int64
	Bytes  int64
	SHA256 string
}

// Result is what a succeeded export reports back.
type Result struct {
	OutputDir   string
	Rows        int64
	CopyBytes   int64
	OutputBytes int64
	Seconds     float64
	Snapshot    string
	LSN         string
	Decoder     string
	Files       []File
}

// Succeed records r for the request under l and its files, in one transaction. It returns
// ErrLeaseLost when the request is no longer running under l (nothing is written then).
func (q *Queries) Succeed(ctx context.Context, db DB, l Lease, r Result) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("record result of request %d: %w", l.ID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	var lsn *string
	if r.LSN != "" {
		lsn = &r.LSN
	}
	if err := q.execLeased(ctx, tx, l, "record result of", `UPDATE {s}.parquet_export_requests
		SET state = 'succeeded', finished_at = now(), heartbeat_at = now(), output_dir = $4, rows = $5,
			copy_bytes = $6, output_bytes = $7, file_count = $8, seconds = $9, snapshot = $10,
			lsn = $11::text::pg_lsn, decoder = $12, error = NULL,
			progress_rows = $5, progress_copy_bytes = $6, progress_at = now()
		WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND state = 'running'`,
		r.OutputDir, r.Rows, r.CopyBytes, r.OutputBytes, len(r.Files), r.Seconds, r.Snapshot, lsn, r.Decoder); err != nil {
		return err
	}
	paths := make([]string, len(r.Files))
	rows := make([]int64, len(r.Files))
	bytes := make([]int64, len(r.Files))
	sums := make([]string, len(r.Files))
	for i, f := range r.Files {
		paths[i], rows[i], bytes[i], sums[i] = f.Path, f.Rows, f.Bytes, f.SHA256
	}
	if _, err := tx.Exec(ctx, q.sql(`DELETE FROM {s}.parquet_export_files WHERE request_id = $1`), l.ID); err != nil {
		return fmt.Errorf("record files of request %d: %w", l.ID, err)
	}
	if _, err := tx.Exec(ctx, q.sql(`INSERT INTO {s}.parquet_export_files (request_id, path, rows, bytes, sha256)
		SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[])`), l.ID, paths, rows, bytes, sums); err != nil {
		return fmt.Errorf("record files of request %d: %w", l.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record result of request %d: %w", l.ID, err)
	}
	return nil
}

// Fail records that the attempt under l failed with errText. When retry is set and attempts
// remain, the request goes back to the queue; otherwise (or when cancellation was requested
// meanwhile) it is finished. It returns the request's new state, or ErrLeaseLost.
func (q *Queries) Fail(ctx context.Context, db DB, l Lease, errText string, retry bool) (string, error) {
	var state string
	err := db.QueryRow(ctx, q.sql(`UPDATE {s}.parquet_export_requests
		SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
				WHEN $5 AND attempt < max_attempts THEN 'queued' ELSE 'failed' END,
			finished_at = CASE WHEN $5 AND attempt < max_attempts AND cancel_requested_at IS NULL THEN NULL ELSE now() END,
			claimed_by = CASE WHEN $5 AND attempt < max_attempts AND cancel_requested_at IS NULL THEN NULL ELSE claimed_by END,
			error = $4
		WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND state = 'running'
		RETURNING state`), l.ID, l.Sidecar, l.Attempt, errText, retry).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("record failure of request %d: %w", l.ID, ErrLeaseLost)
	}
	if err != nil {
		return "", fmt.Errorf("record failure of request %d: %w", l.ID, err)
	}
	return state, nil
}

// Cancelled records that the attempt under l stopped because cancellation was requested.
func (q *Queries) Cancelled(ctx context.Context, db DB, l Lease, note string) error {
	return q.execLeased(ctx, db, l, "record cancellation of", `UPDATE {s}.parquet_export_requests
		SET state = 'cancelled', finished_at = now(), note = $4
		WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND state = 'running'`, note)
}

// Release puts the request under l back in the queue without counting the attempt (the
// sidecar is shutting down), with note saying why.
func (q *Queries) Release(ctx context.Context, db DB, l Lease, note string) error {
	return q.execLeased(ctx, db, l, "release", `UPDATE {s}.parquet_export_requests
		SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'queued' END,
			finished_at = CASE WHEN cancel_requested_at IS NOT NULL THEN now() END,
			attempt = attempt - 1, claimed_by = NULL, heartbeat_at = NULL, note = $4
		WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND state = 'running'`, note)
}

// execLeased runs stmt, an UPDATE of the request under l whose WHERE takes l's id, sidecar
// and attempt as $1-$3 (args follow from $4), and returns ErrLeaseLost when it matched no row:
// the lease lapsed and another sidecar may own the request. what names the action in errors.
func (q *Queries) execLeased(ctx context.Context, db DB, l Lease, what, stmt string, args ...any) error {
	tag, err := db.Exec(ctx, q.sql(stmt), append([]any{l.ID, l.Sidecar, l.Attempt}, args...)...)
	if err != nil {
		return fmt.Errorf("%s request %d: %w", what, l.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s request %d: %w", what, l.ID, ErrLeaseLost)
	}
	return nil
}

// Stale is a running request whose lease had lapsed, as RequeueStale left it.
type Stale struct {
	ID      int64
	Sidecar string // the sidecar that stopped heartbeating
	Attempt int
	State   string // queued (attempts left), failed or cancelled
}

// RequeueStale finds running requests whose heartbeat is older than lease: each goes back to
// the queue when attempts remain, else fails (or is cancelled, when that was requested).
func (q *Queries) RequeueStale(ctx context.Context, db DB, lease time.Duration) ([]Stale, error) {
	rows, err := db.Query(ctx, q.sql(`WITH stale AS (
			SELECT id, claimed_by FROM {s}.parquet_export_requests
			WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => $1::float8)
			FOR UPDATE SKIP LOCKED)
		UPDATE {s}.parquet_export_requests r
		SET state = CASE WHEN r.cancel_requested_at IS NOT NULL THEN 'cancelled'
				WHEN r.attempt < r.max_attempts THEN 'queued' ELSE 'failed' END,
			finished_at = CASE WHEN r.cancel_requested_at IS NULL AND r.attempt < r.max_attempts THEN NULL ELSE now() END,
			claimed_by = NULL,
			note = format('sidecar %s stopped heartbeating for over %s during attempt %s of %s',
				r.claimed_by, make_interval(secs => $1::float8), r.attempt, r.max_attempts),
			error = CASE WHEN r.cancel_requested_at IS NULL AND r.attempt >= r.max_attempts
				THEN format('sidecar %s stopped heartbeating during the last attempt (%s of %s)',
					r.claimed_by, r.attempt, r.max_attempts) ELSE r.error END
		FROM stale WHERE r.id = stale.id
		RETURNING r.id, stale.claimed_by, r.attempt, r.state`), lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("requeue stale requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Stale, error) {
		var s Stale
		var sidecar *string
		var attempt int32
		err := row.Scan(&s.ID, &sidecar, &attempt, &s.State)
		s.Sidecar, s.Attempt = deref(sidecar), int(attempt)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("requeue stale requests: %w", err)
	}
	return out, nil
}

// CanSetRole reports whether the connected role may SET ROLE to role (is a member of it).
// False also when role does not exist.
func (q *Queries) CanSetRole(ctx context.Context, db DB, role string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT pg_has_role(current_user, r.oid, 'MEMBER')
		FROM pg_catalog.pg_roles r WHERE r.rolname = $1), false)`, role).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check membership in role %s: %w", role, err)
	}
	return ok, nil
}

// CountByState counts the requests in each state, for metrics.
func (q *Queries) CountByState(ctx context.Context, db DB) (map[string]int64, error) {
	rows, err := db.Query(ctx, q.sql(`SELECT state, count(*) FROM {s}.parquet_export_requests GROUP BY state`))
	if err != nil {
		return nil, fmt.Errorf("count requests by state: %w", err)
	}
	out := map[string]int64{}
	var state string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error {
		out[state] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count requests by state: %w", err)
	}
	return out, nil
}

// StatusColumns are the columns Status returns, in order.
var StatusColumns = []string{"id", "table", "requester", "state", "progress", "rows", "copy_mb",
	"rows/s", "eta", "elapsed", "attempt", "sidecar", "error"}

// Status returns the newest limit rows of parquet_export_status that the connected role may
// see, newest first, each value as text ("" for NULL), columns as StatusColumns.
func (q *Queries) Status(ctx context.Context, db DB, limit int) ([][]string, error) {
	rows, err := db.Query(ctx, q.sql(`SELECT id::text, table_name, requester::text, state,
			coalesce(progress_pct || '%', ''), coalesce(rows::text, ''),
			coalesce(round(copy_bytes / 1e6, 1)::text, ''), coalesce(rows_per_s::text, ''),
			coalesce(date_trunc('second', eta)::text, ''), coalesce(date_trunc('second', elapsed)::text, ''),
			attempt || '/' || max_attempts, coalesce(sidecar, ''), coalesce(error, '')
		FROM {s}.parquet_export_status ORDER BY id DESC LIMIT $1`), limit)
	if err != nil {
		return nil, fmt.Errorf("read %s.parquet_export_status: %w", q.schema, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]string, error) {
		vals := make([]string, len(StatusColumns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		return vals, row.Scan(ptrs...)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s.parquet_export_status: %w", q.schema, err)
	}
	return out, nil
}
