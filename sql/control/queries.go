package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/outcome"
)

// ErrLeaseLost is returned (wrapped) by the writes of a running request that find it no longer
// held by the caller: its lease lapsed and it was re-queued (or failed) by another sidecar.
// The caller must stop its export and write nothing more for it.
var ErrLeaseLost = errors.New("lease lost")

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
	// Format holds the request's format options (checked when the request was written).
	Format     Format
	OutputPath string // as requested (cleaned), empty when the default was taken
	// OutputDir is the request's directory relative to the output root: its requester's
	// directory, then the output path (or <schema.table>/<id>). No other live or retained
	// request of the requester owns it, one inside it or one above it.
	OutputDir string
	Priority  int
	// MaxOutputBytes is the requester's max_output_bytes limit (0: none).
	MaxOutputBytes int64
	Requester      string
	Attempt        int
	MaxAttempts    int
	Lease          Lease
	// IcebergTable, when set, is the Iceberg table (namespace.name) the export is committed
	// to once published, in catalog IcebergCatalog ("postgres": the control database's own).
	// The control tables checked both when the request was written: the namespace is the
	// requester's role name unless the requester is an administrator.
	IcebergTable   string
	IcebergCatalog string
	// RoleDir is the requester's directory, relative to the output root (OutputDir is inside
	// it).
	RoleDir string
	// Incremental is set for a run of an incremental chain (mode incremental): OutputDir is
	// then the chain's directory, and the run goes into a numbered directory inside it.
	// ChainID names the chain (see Chain); no other run of it runs meanwhile.
	Incremental bool
	ChainID     int64
}

// Format is a request's format options, as the CLI's flags of the same names; zero values
// take the export's defaults.
type Format struct {
	AsText       []string `json:"as_text"`
	Numeric      string   `json:"numeric"`
	Timestamp    string   `json:"timestamp"`
	WideNumeric  string   `json:"wide_numeric"`
	Compat       string   `json:"compat"`
	RowGroupSize int64    `json:"row_group_size"`
}

// Lease identifies one attempt at a request by one sidecar; every write of a running request
// is conditional on it. Fence numbers the request's claims and never goes back (a released
// request's next claim counts the same attempt again, under a new fence): the attempt's
// staging directory is named for it, so no two attempts ever write the same files.
type Lease struct {
	ID      int64
	Sidecar string
	Fence   int64
	Attempt int
}

// StagingTag is the tag of the attempt's staging directory (export.StagingPrefix + tag).
func (l Lease) StagingTag() string { return "attempt-" + strconv.FormatInt(l.Fence, 10) }

// Claim takes the queued request that is due (run_after passed) of highest priority, from the
// requesters with the fewest running requests first (oldest first among equals), skipping
// requesters at their max_running limit; marks it running with a fresh heartbeat, counts an
// attempt, advances its fence and records the attempt. It returns nil, nil when nothing is
// due. Claims are serialised on a row only the sidecars' role can lock, so limits and
// directory ownership hold across sidecars; rows locked by anyone else are skipped.
//
// A request whose directory another live or retained request of its requester owns (possible
// only when two inserts raced) is failed here instead, and the next one is looked at.
func (db *DB) Claim(ctx context.Context, sidecar string) (*Request, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	for {
		r, retry, err := db.claimOne(ctx, sidecar)
		if err != nil || !retry {
			return r, err
		}
	}
}

func (db *DB) claimOne(ctx context.Context, sidecar string) (*Request, bool, error) {
	tx, err := db.q.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("claim a request: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, db.sql(`SELECT FROM {s}.parquet_export_leases WHERE name = 'claim' FOR UPDATE`)); err != nil {
		return nil, false, fmt.Errorf("claim a request: take the claim lease: %w", err)
	}
	var r Request
	var compression, outputPath, outputDir, relation, iceTable, iceCatalog *string
	var format []byte
	var parallel *int32
	var attempt, maxAttempts, priority int32
	err = tx.QueryRow(ctx, db.sql(`WITH running AS (
			SELECT requester, count(*) AS n FROM {s}.parquet_export_requests
			WHERE state IN ('running', 'publishing') GROUP BY requester),
		pick AS (
			SELECT c.id FROM {s}.parquet_export_requests c
			LEFT JOIN running ON running.requester = c.requester
			CROSS JOIN LATERAL {s}.parquet_export_limit(c.requester) lim
			WHERE c.state = 'queued' AND (c.run_after IS NULL OR c.run_after <= now())
				AND coalesce(running.n, 0) < coalesce(lim.max_running, 2147483647)
				AND (c.chain_id IS NULL OR NOT EXISTS (SELECT FROM {s}.parquet_export_requests o
					WHERE o.chain_id = c.chain_id AND o.state IN ('running', 'publishing')))
			ORDER BY c.priority DESC, coalesce(running.n, 0), c.id
			FOR UPDATE OF c SKIP LOCKED LIMIT 1)
		UPDATE {s}.parquet_export_requests r
		SET state = 'running', claimed_by = $1, heartbeat_at = now(), started_at = now(),
			attempt = r.attempt + 1, fence = r.fence + 1, run_after = NULL, progress_rows = NULL,
			progress_copy_bytes = NULL, estimated_rows = NULL, tasks_done = NULL, tasks = NULL,
			progress_at = NULL, error = NULL
		FROM pick WHERE r.id = pick.id
		RETURNING r.id, r.table_name,
			(SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) FROM pg_catalog.pg_class c
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = r.relid),
			r.columns, r.compression, r.parallel, r.output_path, r.output_dir, r.priority, r.requester,
			r.attempt, r.max_attempts, r.fence, r.format,
			coalesce((SELECT max_output_bytes FROM {s}.parquet_export_limit(r.requester)), 0),
			r.iceberg_table, r.iceberg_catalog, {s}.parquet_export_role_dir(r.requester),
			r.mode = 'incremental', coalesce(r.chain_id, 0)`), sidecar).
		Scan(&r.ID, &r.TableName, &relation, &r.Columns, &compression, &parallel, &outputPath, &outputDir,
			&priority, &r.Requester, &attempt, &maxAttempts, &r.Lease.Fence, &format, &r.MaxOutputBytes,
			&iceTable, &iceCatalog, &r.RoleDir, &r.Incremental, &r.ChainID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("claim a request: %w", err)
	}
	r.Relation, r.Compression, r.OutputPath, r.OutputDir = deref(relation), deref(compression), deref(outputPath), deref(outputDir)
	r.IcebergTable, r.IcebergCatalog = deref(iceTable), deref(iceCatalog)
	if len(format) > 0 {
		if err := json.Unmarshal(format, &r.Format); err != nil {
			return nil, false, fmt.Errorf("claim a request: request %d: read its format options: %w", r.ID, err)
		}
	}
	if parallel != nil {
		r.Parallel = int(*parallel)
	}
	r.Priority, r.Attempt, r.MaxAttempts = int(priority), int(attempt), int(maxAttempts)
	r.Lease.ID, r.Lease.Sidecar, r.Lease.Attempt = r.ID, sidecar, r.Attempt
	var other *int64
	if err := tx.QueryRow(ctx, db.sql(`SELECT {s}.parquet_export_dir_owner($1, $2, $3)`), r.Requester, r.OutputDir, r.ID).Scan(&other); err != nil {
		return nil, false, fmt.Errorf("claim request %d: check its directory: %w", r.ID, err)
	}
	if other != nil {
		if _, err := tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_requests SET state = 'failed', finished_at = now(),
				claimed_by = NULL, error = $2 WHERE id = $1`), r.ID,
			fmt.Sprintf("output directory %s: request %d already owns it, one inside it or one above it; choose another output_path", r.OutputDir, *other)); err != nil {
			return nil, false, fmt.Errorf("claim request %d: %w", r.ID, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, false, fmt.Errorf("claim request %d: %w", r.ID, err)
		}
		return nil, true, nil
	}
	if _, err := tx.Exec(ctx, db.sql(`INSERT INTO {s}.parquet_export_attempts (request_id, fence, attempt, sidecar, output_dir)
		VALUES ($1, $2, $3, $4, $5)`), r.ID, r.Lease.Fence, r.Attempt, sidecar, r.OutputDir); err != nil {
		return nil, false, fmt.Errorf("claim request %d: record the attempt: %w", r.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("claim request %d: %w", r.ID, err)
	}
	return &r, false, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Heartbeat renews the lease (and records p when not nil) and reports whether cancellation was
// requested. It returns ErrLeaseLost when the request is no longer running under l.
func (db *DB) Heartbeat(ctx context.Context, l Lease, p *outcome.Progress) (cancelRequested bool, err error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var rows, copyBytes, estimated *int64
	var done, tasks *int
	if p != nil {
		rows, copyBytes, done, tasks = &p.Rows, &p.CopyBytes, &p.TasksDone, &p.Tasks
		if p.EstimatedRows >= 0 {
			estimated = &p.EstimatedRows
		}
	}
	err = db.q.QueryRow(ctx, db.sql(`UPDATE {s}.parquet_export_requests
		SET heartbeat_at = now(),
			progress_rows = coalesce($4, progress_rows), progress_copy_bytes = coalesce($5, progress_copy_bytes),
			estimated_rows = CASE WHEN $4::bigint IS NULL THEN estimated_rows ELSE $6 END,
			tasks_done = coalesce($7, tasks_done), tasks = coalesce($8, tasks),
			progress_at = CASE WHEN $4::bigint IS NULL THEN progress_at ELSE now() END
		WHERE id = $1 AND claimed_by = $2 AND fence = $3 AND state IN ('running', 'publishing')
		RETURNING cancel_requested_at IS NOT NULL AND state = 'running'`), l.ID, l.Sidecar, l.Fence, rows, copyBytes, estimated, done, tasks).
		Scan(&cancelRequested)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("heartbeat of request %d: %w", l.ID, ErrLeaseLost)
	}
	if err != nil {
		return false, fmt.Errorf("heartbeat of request %d: %w", l.ID, err)
	}
	return cancelRequested, nil
}

// joinPath is dir/name, for a clean relative dir or a URI (s3://bucket/prefix), which
// path.Join would mangle.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// Publishing records the export's result r for the request under l and its files (named
// inside dir, the request's output directory), and the directory's URI (output_uri), in one
// transaction, and moves
// the request to state publishing: from then on the attempt under l (and only it) may move
// its staged files into the request's directory, and no other attempt ever will. It returns
// ErrLeaseLost when the request is no longer running under l (nothing is written then): the
// attempt must then discard its staged files.
func (db *DB) Publishing(ctx context.Context, l Lease, dir, uri string, r *outcome.Result) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	tx, err := db.q.Begin(ctx)
	if err != nil {
		return fmt.Errorf("record result of request %d: %w", l.ID, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	var lsn, runMode, fromLSN *string
	if r.LSN != "" {
		lsn = &r.LSN
	}
	var run *int
	if inc := r.Incremental; inc != nil {
		run, runMode = &inc.Run, &inc.Mode
		if inc.FromLSN != "" {
			fromLSN = &inc.FromLSN
		}
	}
	if err := db.execLeased(ctx, tx, l, "record result of", `UPDATE {s}.parquet_export_requests
		SET state = 'publishing', published_fence = fence, heartbeat_at = now(), rows = $4,
			copy_bytes = $5, output_bytes = $6, file_count = $7, seconds = $8, snapshot = $9,
			lsn = $10::text::pg_lsn, decoder = $11, error = NULL,
			progress_rows = $4, progress_copy_bytes = $5, progress_at = now(), tasks_done = tasks,
			output_uri = nullif($12, ''), iceberg_snapshot = NULL, iceberg_metadata = NULL,
			chain_run = $13, run_mode = $14, from_lsn = $15::text::pg_lsn
		WHERE id = $1 AND claimed_by = $2 AND fence = $3 AND state = 'running'`,
		r.Rows, r.CopyBytes, r.OutputBytes, len(r.Files), r.Seconds, r.Snapshot, lsn, r.Decoder, uri, run, runMode, fromLSN); err != nil {
		return err
	}
	paths := make([]string, len(r.Files))
	rows := make([]int64, len(r.Files))
	bytes := make([]int64, len(r.Files))
	sums := make([]string, len(r.Files))
	for i, f := range r.Files {
		paths[i], rows[i], bytes[i], sums[i] = joinPath(dir, f.Name), f.Rows, f.Bytes, f.SHA256
	}
	if _, err := tx.Exec(ctx, db.sql(`DELETE FROM {s}.parquet_export_files WHERE request_id = $1`), l.ID); err != nil {
		return fmt.Errorf("record files of request %d: %w", l.ID, err)
	}
	if _, err := tx.Exec(ctx, db.sql(`INSERT INTO {s}.parquet_export_files (request_id, path, rows, bytes, sha256)
		SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[])`), l.ID, paths, rows, bytes, sums); err != nil {
		return fmt.Errorf("record files of request %d: %w", l.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("record result of request %d: %w", l.ID, err)
	}
	return nil
}

// Published marks request id succeeded once the files of its publishing attempt (fence) are
// in place. Whoever moved them (the attempt itself, or a sidecar that rolled a dead attempt's
// publication forward) may call it; a second call changes nothing.
func (db *DB) Published(ctx context.Context, id, fence int64) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(requestAndAttempt(`
			UPDATE {s}.parquet_export_requests SET state = 'succeeded', finished_at = now(), heartbeat_at = now()
			WHERE id = $1 AND state = 'publishing' AND published_fence = $2 RETURNING id`,
		"$2", `finished_at = coalesce(a.finished_at, now()), outcome = 'succeeded'`, "")), id, fence)
	if err != nil {
		return fmt.Errorf("record request %d as succeeded: %w", id, err)
	}
	return nil
}

// IcebergCommitted records the Iceberg snapshot (its id and the table's metadata file) that
// the publication of request id's attempt fence was committed as. Whoever published may call
// it, before Published; a request no longer publishing under fence is left as it is.
func (db *DB) IcebergCommitted(ctx context.Context, id, fence, snapshot int64, metadata string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_requests SET iceberg_snapshot = $3, iceberg_metadata = $4
		WHERE id = $1 AND state = 'publishing' AND published_fence = $2`), id, fence, snapshot, metadata); err != nil {
		return fmt.Errorf("record request %d's Iceberg snapshot: %w", id, err)
	}
	return nil
}

// CommitFailed records that the publication of request id's attempt fence could not be
// committed to its Iceberg table, and that its files were deleted (the files table says so):
// the request fails with errText.
func (db *DB) CommitFailed(ctx context.Context, id, fence int64, errText string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(`WITH r AS (
			UPDATE {s}.parquet_export_requests SET state = 'failed', finished_at = now(), error = $3
			WHERE id = $1 AND state = 'publishing' AND published_fence = $2 RETURNING id),
		a AS (
			UPDATE {s}.parquet_export_attempts a SET finished_at = now(), outcome = 'failed', error = $3
			FROM r WHERE a.request_id = r.id AND a.fence = $2)
		UPDATE {s}.parquet_export_files f SET deleted_at = now() FROM r WHERE f.request_id = r.id`), id, fence, errText)
	if err != nil {
		return fmt.Errorf("record request %d's failed Iceberg commit: %w", id, err)
	}
	return nil
}

// PublishFailed records that the files of request id's publishing attempt (fence) could not
// be moved into place; what was moved has been taken back. The request fails.
func (db *DB) PublishFailed(ctx context.Context, id, fence int64, errText string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(requestAndAttempt(`
			UPDATE {s}.parquet_export_requests SET state = 'failed', finished_at = now(), error = $3
			WHERE id = $1 AND state = 'publishing' AND published_fence = $2 RETURNING id`,
		"$2", `finished_at = now(), outcome = 'failed', error = $3`, "")), id, fence, errText)
	if err != nil {
		return fmt.Errorf("record request %d's failed publication: %w", id, err)
	}
	return nil
}

// Backoff is how long a request waits before its next attempt after attempt failures:
// 2 s doubling per attempt up to 5 minutes, with ±50% jitter so that requests failing together
// do not come back together.
func Backoff(attempt int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// Fail records that the attempt under l failed with errText. When retry is set and attempts
// remain, the request goes back to the queue, due after Backoff; otherwise (or when
// cancellation was requested meanwhile) it is finished. It returns the request's new state,
// or ErrLeaseLost.
func (db *DB) Fail(ctx context.Context, l Lease, errText string, retry bool) (string, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var state string
	err := db.q.QueryRow(ctx, db.sql(requestAndAttempt(`
			UPDATE {s}.parquet_export_requests
			SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
					WHEN $5 AND attempt < max_attempts THEN 'queued' ELSE 'failed' END,
				finished_at = CASE WHEN $5 AND attempt < max_attempts AND cancel_requested_at IS NULL THEN NULL ELSE now() END,
				claimed_by = CASE WHEN $5 AND attempt < max_attempts AND cancel_requested_at IS NULL THEN NULL ELSE claimed_by END,
				run_after = CASE WHEN $5 AND attempt < max_attempts AND cancel_requested_at IS NULL
					THEN now() + make_interval(secs => $6::float8) END,
				error = $4
			WHERE id = $1 AND claimed_by = $2 AND fence = $3 AND state = 'running'
			RETURNING id, state`,
		"$3", `finished_at = now(), outcome = 'failed', error = $4`, `SELECT state FROM r`)), l.ID, l.Sidecar, l.Fence, errText, retry, Backoff(l.Attempt).Seconds()).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("record failure of request %d: %w", l.ID, ErrLeaseLost)
	}
	if err != nil {
		return "", fmt.Errorf("record failure of request %d: %w", l.ID, err)
	}
	return state, nil
}

// Cancelled records that the attempt under l stopped because cancellation was requested.
func (db *DB) Cancelled(ctx context.Context, l Lease, note string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return db.execLeased(ctx, db.q, l, "record cancellation of", requestAndAttempt(`
			UPDATE {s}.parquet_export_requests SET state = 'cancelled', finished_at = now(), note = $4
			WHERE id = $1 AND claimed_by = $2 AND fence = $3 AND state = 'running' RETURNING id`,
		"$3", `finished_at = now(), outcome = 'cancelled'`, "RETURNING 1"), note)
}

// Release puts the request under l back in the queue without counting the attempt (the
// sidecar is shutting down), with note saying why.
func (db *DB) Release(ctx context.Context, l Lease, note string) error {
	return db.release(ctx, l, "release", note, 0)
}

// release puts the request under l back in the queue without counting the attempt, due after
// delay (at once when 0; a claim has cleared run_after), with note saying why; what names the
// action in errors.
func (db *DB) release(ctx context.Context, l Lease, what, note string, delay time.Duration) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return db.execLeased(ctx, db.q, l, what, requestAndAttempt(`
			UPDATE {s}.parquet_export_requests
			SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'queued' END,
				finished_at = CASE WHEN cancel_requested_at IS NOT NULL THEN now() END,
				attempt = attempt - 1, claimed_by = NULL, heartbeat_at = NULL, note = $4,
				run_after = CASE WHEN $5::float8 > 0 THEN now() + make_interval(secs => $5::float8) END
			WHERE id = $1 AND claimed_by = $2 AND fence = $3 AND state = 'running' RETURNING id`,
		"$3", `finished_at = now(), outcome = 'released'`, "RETURNING 1"), note, delay.Seconds())
}

// execLeased runs stmt on q (the DB's connections, or a transaction of them): a write of the
// request under l whose WHERE takes l's id, sidecar and fence as $1-$3 (args follow from $4).
// It returns ErrLeaseLost when stmt matched no row: the lease lapsed and another sidecar may
// own the request. what names the action in errors.
func (db *DB) execLeased(ctx context.Context, q Querier, l Lease, what, stmt string, args ...any) error {
	tag, err := q.Exec(ctx, db.sql(stmt), append([]any{l.ID, l.Sidecar, l.Fence}, args...)...)
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
// the queue when attempts remain, else fails (or is cancelled, when that was requested). A
// request in state publishing is left to RollForward.
func (db *DB) RequeueStale(ctx context.Context, lease time.Duration) ([]Stale, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "requeue stale requests", func(row pgx.CollectableRow) (Stale, error) {
		var s Stale
		var sidecar *string
		var attempt int32
		err := row.Scan(&s.ID, &sidecar, &attempt, &s.State)
		s.Sidecar, s.Attempt = deref(sidecar), int(attempt)
		return s, err
	}, `WITH stale AS (
			SELECT id, claimed_by, fence FROM {s}.parquet_export_requests
			WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => $1::float8)
			FOR UPDATE SKIP LOCKED),
		r AS (
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
			RETURNING r.id, stale.claimed_by, stale.fence, r.attempt, r.state),
		a AS (
			UPDATE {s}.parquet_export_attempts a SET finished_at = now(), outcome = 'lease lapsed'
			FROM r WHERE a.request_id = r.id AND a.fence = r.fence)
		SELECT id, claimed_by, attempt, state FROM r`, lease.Seconds())
}

// Publication is a request in state publishing whose publisher stopped heartbeating: its
// files, staged by attempt Fence in OutputDir, are to be moved into place by RollForward's
// caller.
type Publication struct {
	ID        int64
	Fence     int64
	OutputDir string
	// IcebergTable, when set, is the table the publication is to be committed to (in
	// IcebergCatalog) once the files are in place, with what the commit needs: the requester's
	// directory (RoleDir), the directory's URI, the exported snapshot, LSN and table, and the
	// files (as the files table names them).
	IcebergTable   string
	IcebergCatalog string
	RoleDir        string
	OutputURI      string
	Snapshot       string
	LSN            string
	SourceTable    string
	Files          []string
}

// RollForward takes over, for sidecar, the publications whose heartbeat is older than lease
// (their publisher died or froze while moving files): it renews their heartbeat under
// sidecar's name and returns them. Moving files is idempotent, so a publisher that thaws and
// carries on does no harm.
func (db *DB) RollForward(ctx context.Context, sidecar string, lease time.Duration) ([]Publication, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "take over stalled publications", pgx.RowToStructByPos[Publication],
		`UPDATE {s}.parquet_export_requests r SET claimed_by = $1, heartbeat_at = now()
		WHERE r.id IN (SELECT id FROM {s}.parquet_export_requests
			WHERE state = 'publishing' AND mode = 'full' AND heartbeat_at < now() - make_interval(secs => $2::float8)
			FOR UPDATE SKIP LOCKED)
		RETURNING r.id, r.published_fence, r.output_dir, coalesce(r.iceberg_table, ''), coalesce(r.iceberg_catalog, ''),
			{s}.parquet_export_role_dir(r.requester), coalesce(r.output_uri, ''), coalesce(r.snapshot, ''),
			coalesce(r.lsn::text, ''), r.table_name,
			coalesce((SELECT array_agg(f.path ORDER BY f.path) FROM {s}.parquet_export_files f WHERE f.request_id = r.id), '{}')`,
		sidecar, lease.Seconds())
}

// DeadAttempt is an attempt whose staging directory may still exist although it can no longer
// publish: its request runs or publishes under another fence, or is queued or finished.
type DeadAttempt struct {
	ID        int64
	Fence     int64
	OutputDir string
	// RemoveDir is set when no attempt of the request uses its directory (the request is
	// queued, failed or cancelled) and when its files were deleted: the directory is removed
	// too if it is empty, so that a request that never succeeds, or whose export was deleted,
	// leaves nothing behind (a queued request's next attempt creates it again).
	RemoveDir bool
}

// DeadAttempts lists up to limit attempts whose staging directory is to be removed.
func (db *DB) DeadAttempts(ctx context.Context, limit int) ([]DeadAttempt, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "list dead attempts", pgx.RowToStructByPos[DeadAttempt],
		`SELECT a.request_id, a.fence, a.output_dir, (r.state IN ('queued', 'failed', 'cancelled') OR r.deleted_at IS NOT NULL)
		FROM {s}.parquet_export_attempts a JOIN {s}.parquet_export_requests r ON r.id = a.request_id
		WHERE a.cleaned_at IS NULL
			AND NOT (r.state = 'running' AND r.fence = a.fence)
			AND NOT (r.state = 'publishing' AND r.published_fence = a.fence)
		ORDER BY a.request_id, a.fence LIMIT $1`, limit)
}

// AttemptCleaned records that attempt fence of request id left nothing on disk.
func (db *DB) AttemptCleaned(ctx context.Context, id, fence int64) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_attempts SET cleaned_at = now()
		WHERE request_id = $1 AND fence = $2`), id, fence); err != nil {
		return fmt.Errorf("record attempt %d of request %d as cleaned: %w", fence, id, err)
	}
	return nil
}

// CheckCatalogSchema refuses to let the sidecar write an Iceberg SQL catalog in schema (of the
// control database) unless the schema and every relation and function in it are owned by the
// connected role or a superuser: whoever owns them could make the catalog's writes run code as
// the sidecar's role (a trigger on a catalog table). A missing schema is fine: the catalog
// creates it, as the connected role.
func (db *DB) CheckCatalogSchema(ctx context.Context, schema string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var owner *string
	err := db.q.QueryRow(ctx, `SELECT o.rolname::text FROM pg_catalog.pg_namespace n, LATERAL (
			SELECT n.nspowner AS oid, 'schema ' || n.nspname AS what
			UNION ALL SELECT c.relowner, c.relname::text FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid
			UNION ALL SELECT p.proowner, p.proname::text FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid) x
		JOIN pg_catalog.pg_roles o ON o.oid = x.oid
		WHERE n.nspname = $1 AND o.rolname <> current_user AND NOT o.rolsuper
		LIMIT 1`, schema).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check the owner of schema %s: %w", schema, err)
	}
	return fmt.Errorf("schema %s, or something in it, is owned by role %s: the sidecar keeps its Iceberg catalog only in a schema that it or a superuser owns (ALTER SCHEMA %s OWNER TO the sidecar's role, as deploy/roles.sql creates it)", schema, *owner, schema)
}

// ErrNotServed is returned (wrapped) by Login when no login was made for the role.
var ErrNotServed = errors.New("role not served")

// ErrRolesNotInstalled is returned (wrapped) by Login when deploy/roles.sql was not run in the
// database.
var ErrRolesNotInstalled = errors.New("pgparquet_auth not installed")

// Login is what an export of a served role connects as: a login that is a member of that role
// alone (deploy/roles.sql, pgparquet_auth.serve_role).
type Login struct {
	User     string
	Password string
}

// Login returns role's login. It fails with ErrNotServed when role is not served, and refuses
// (ErrNotServed too) a role that is a superuser or bypasses row-level security, or can become
// such a role, whatever pgparquet_auth says.
func (db *DB) Login(ctx context.Context, role string) (Login, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var super, power, user, pass *string
	err := db.q.QueryRow(ctx, `SELECT l.login::text, l.password,
			(SELECT r.rolname::text FROM pg_catalog.pg_roles r WHERE r.rolname = $1 AND (r.rolsuper OR r.rolbypassrls)),
			(SELECT s.rolname::text FROM pg_catalog.pg_roles s JOIN pg_catalog.pg_roles r ON r.rolname = $1
				WHERE (s.rolsuper OR s.rolbypassrls) AND s.oid <> r.oid AND pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER') LIMIT 1)
		FROM (SELECT 1) one
		LEFT JOIN pg_catalog.pg_roles r ON r.rolname = $1
		LEFT JOIN pgparquet_auth.logins l ON l.role_oid = r.oid`, role).Scan(&user, &pass, &super, &power)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000"):
		return Login{}, fmt.Errorf("%w: run deploy/roles.sql in this database as a superuser, then SELECT pgparquet_auth.serve_role(...)", ErrRolesNotInstalled)
	case errors.As(err, &pgErr) && pgErr.Code == "42501":
		return Login{}, fmt.Errorf("%w: the sidecar's role may not read pgparquet_auth.logins (deploy/roles.sql grants it to pgparquet)", ErrRolesNotInstalled)
	case err != nil:
		return Login{}, fmt.Errorf("look up the login of role %s: %w", role, err)
	case super != nil:
		return Login{}, fmt.Errorf("%w: role %s is a superuser or bypasses row-level security: pgparquet never exports on behalf of such a role; request the export as an ordinary role", ErrNotServed, role)
	case power != nil:
		return Login{}, fmt.Errorf("%w: role %s can become role %s, a superuser or BYPASSRLS role: pgparquet never exports on behalf of such a role", ErrNotServed, role, *power)
	case user == nil:
		return Login{}, fmt.Errorf("%w: role %s is not served by pgparquet: an administrator must run SELECT pgparquet_auth.serve_role(%s)", ErrNotServed, role, quoteLiteral(role))
	}
	return Login{User: *user, Password: deref(pass)}, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CountByState counts the requests in each state, for metrics.
func (db *DB) CountByState(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	rows, err := db.q.Query(ctx, db.sql(`SELECT state, count(*) FROM {s}.parquet_export_requests GROUP BY state`))
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
	"rows/s", "eta", "elapsed", "attempt", "sidecar", "output", "error", "note"}

// StatusFilter selects the rows Status returns; zero fields select everything.
type StatusFilter struct {
	// Limit is how many of the newest rows (0: 20).
	Limit int
	// States keeps requests in one of these states.
	States []string
	// Requester keeps one role's requests.
	Requester string
	// Table keeps requests of one table, named as stored (schema-qualified) or without schema.
	Table string
}

// Status returns the newest rows of parquet_export_status that the connected role may see and
// f selects, newest first, each value as text ("" for NULL), columns as StatusColumns. The
// note says first whether the export's files were deleted (or are being deleted), and why.
func (db *DB) Status(ctx context.Context, f StatusFilter) ([][]string, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if f.Limit <= 0 {
		f.Limit = 20
	}
	var states []string
	if len(f.States) > 0 {
		states = f.States
	}
	return queryAll(ctx, db, "read "+db.schema+".parquet_export_status", textRow(len(StatusColumns)), `SELECT id::text, table_name, requester::text, state,
			coalesce(progress_pct || '%', ''), coalesce(rows::text, ''),
			coalesce(round(copy_bytes / 1e6, 1)::text, ''), coalesce(rows_per_s::text, ''),
			coalesce(date_trunc('second', eta)::text, ''), coalesce(date_trunc('second', elapsed)::text, ''),
			attempt || '/' || max_attempts, coalesce(sidecar, ''), coalesce(output_dir, ''), coalesce(error, ''),
			concat_ws('; ', CASE WHEN deleted_at IS NOT NULL THEN 'files deleted: ' || delete_reason
				WHEN delete_requested_at IS NOT NULL THEN 'deleting files: ' || delete_reason END, note)
		FROM {s}.parquet_export_status
		WHERE ($2::text[] IS NULL OR state = ANY ($2))
			AND ($3 = '' OR requester::text = $3)
			AND ($4 = '' OR table_name = $4 OR pg_catalog.split_part(table_name, '.', 2) = $4)
		ORDER BY id DESC LIMIT $1`, f.Limit, states, f.Requester, f.Table)
}

// textRow scans a row of n columns, each read as text.
func textRow(n int) pgx.RowToFunc[[]string] {
	return func(row pgx.CollectableRow) ([]string, error) {
		vals := make([]string, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		return vals, row.Scan(ptrs...)
	}
}

// Session is who the DB's sessions are, as the sidecar checks at start.
type Session struct {
	Role       string
	Superuser  bool
	InRecovery bool // the server is a hot standby: the control tables cannot be written
}

// CurrentUser returns the connected role and whether the server is a hot standby.
func (db *DB) CurrentUser(ctx context.Context) (Session, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var s Session
	if err := db.q.QueryRow(ctx, `SELECT pg_catalog.pg_is_in_recovery(), r.rolsuper, r.rolname::text
			FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`).Scan(&s.InRecovery, &s.Superuser, &s.Role); err != nil {
		return Session{}, err
	}
	return s, nil
}

// SidecarInfo is what a sidecar records of itself in parquet_export_sidecar_log.
type SidecarInfo struct {
	ID        string
	Role      string
	Superuser bool
	Version   string
	// GPU says whether exports decode on a GPU: "yes", or "no: <why not>".
	GPU   string
	Host  string
	PID   int
	Lease time.Duration
	// MaxParallel is the sidecar's --max-parallel: requests asking for more are refused.
	MaxParallel int
}

// SidecarStarted records that sidecar s started now (replacing what an earlier run of the same
// ID left).
func (db *DB) SidecarStarted(ctx context.Context, s SidecarInfo) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`INSERT INTO {s}.parquet_export_sidecar_log AS l
			(id, role, superuser, version, gpu, host, pid, started_at, seen_at, lease, max_parallel)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now(), pg_catalog.make_interval(secs => $8), nullif($9, 0))
		ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, superuser = EXCLUDED.superuser, version = EXCLUDED.version,
			gpu = EXCLUDED.gpu, host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = now(), seen_at = now(),
			lease = EXCLUDED.lease, stopped_at = NULL, max_parallel = EXCLUDED.max_parallel`),
		s.ID, s.Role, s.Superuser, s.Version, s.GPU, s.Host, s.PID, s.Lease.Seconds(), s.MaxParallel); err != nil {
		return fmt.Errorf("record sidecar %s: %w", s.ID, err)
	}
	return nil
}

// SidecarSeen records that sidecar id is alive now.
func (db *DB) SidecarSeen(ctx context.Context, id string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_sidecar_log SET seen_at = now(), stopped_at = NULL WHERE id = $1`), id); err != nil {
		return fmt.Errorf("record sidecar %s alive: %w", id, err)
	}
	return nil
}

// SidecarStopped records that sidecar id stopped cleanly.
func (db *DB) SidecarStopped(ctx context.Context, id string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_sidecar_log SET stopped_at = now() WHERE id = $1`), id); err != nil {
		return fmt.Errorf("record sidecar %s stopped: %w", id, err)
	}
	return nil
}
