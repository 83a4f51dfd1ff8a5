package control

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Expired is a succeeded export that ExpireExports marked for deletion, and why.
type Expired struct {
	ID     int64
	Reason string
}

// ExpireExports marks for deletion (delete_requested_at, delete_reason) the succeeded exports
// past their retention: those kept for longer than their keep_for since they finished, and the
// runs of a schedule whose options say keep N beyond its N newest succeeded runs (by slot)
// not already marked. Rows locked by anyone else are skipped (the next pass takes them), so
// several sidecars may run it at once; each row is marked once.
func (db *DB) ExpireExports(ctx context.Context) ([]Expired, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "mark expired exports", pgx.RowToStructByPos[Expired], `WITH due AS (
			SELECT r.id, pg_catalog.format('expired: kept for %s after it finished', r.keep_for) AS reason
			FROM {s}.parquet_export_requests r
			WHERE r.state = 'succeeded' AND r.delete_requested_at IS NULL AND r.keep_for IS NOT NULL
				AND r.finished_at + r.keep_for <= now()
			UNION ALL
			SELECT k.id, pg_catalog.format('expired: schedule %s keeps the files of its newest %s succeeded runs', pg_catalog.quote_literal(k.name), k.keep)
			FROM (SELECT r.id, s.name, (s.options ->> 'keep')::numeric AS keep,
					row_number() OVER (PARTITION BY r.schedule_id ORDER BY r.schedule_slot DESC, r.id DESC) AS n
				FROM {s}.parquet_export_requests r JOIN {s}.parquet_export_schedules s ON s.id = r.schedule_id
				WHERE s.options ? 'keep' AND pg_catalog.jsonb_typeof(s.options -> 'keep') = 'number'
					AND r.state = 'succeeded' AND r.delete_requested_at IS NULL AND r.iceberg_snapshot IS NULL) k
			WHERE k.n > k.keep),
		pick AS (
			SELECT r.id FROM {s}.parquet_export_requests r
			WHERE r.id IN (SELECT id FROM due) AND r.state = 'succeeded' AND r.delete_requested_at IS NULL
				AND r.iceberg_snapshot IS NULL
			FOR UPDATE SKIP LOCKED)
		UPDATE {s}.parquet_export_requests r
		SET delete_requested_at = now(), delete_reason = (SELECT due.reason FROM due WHERE due.id = r.id LIMIT 1)
		FROM pick WHERE r.id = pick.id
		RETURNING r.id, r.delete_reason`)
}

// Deletions returns the ids of up to limit requests whose files are to be deleted and are not
// yet, oldest first.
func (db *DB) Deletions(ctx context.Context, limit int) ([]int64, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "list exports to delete", pgx.RowTo[int64], `SELECT id FROM {s}.parquet_export_requests
		WHERE delete_requested_at IS NOT NULL AND deleted_at IS NULL ORDER BY id LIMIT $1`, limit)
}

// Deletion is an export whose files are being deleted.
type Deletion struct {
	ID int64
	// OutputDir is the request's directory, relative to the output root.
	OutputDir string
	// Files are the export's files as parquet_export_files names them (relative to the output
	// root, each inside OutputDir); the manifest is not among them.
	Files  []string
	Reason string
}

// DeleteExport deletes the files of request id, when they are to be deleted and are not yet:
// it takes the request's row lock (skipping a row locked by anyone else: another sidecar
// deleting it, or its requester), calls remove, and when remove succeeds marks the request and
// its files deleted (deleted_at) in the same transaction. So no two sidecars remove one
// export's files at once, and the request's directory is released (for another request of the
// role) only once its files are gone. remove must be idempotent: a deletion cut off half-way
// (remove failed, the sidecar died, the transaction did not commit) is done again from the
// start by a later call. DeleteExport reports whether it deleted the files; false, nil when
// there was nothing to do or the row was locked.
func (db *DB) DeleteExport(ctx context.Context, id int64, remove func(Deletion) error) (bool, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	deleted := false
	err := pgx.BeginFunc(ctx, db.q, func(tx pgx.Tx) error {
		d := Deletion{ID: id}
		var dir *string
		err := tx.QueryRow(ctx, db.sql(`SELECT output_dir, coalesce(delete_reason, '') FROM {s}.parquet_export_requests
			WHERE id = $1 AND delete_requested_at IS NOT NULL AND deleted_at IS NULL FOR UPDATE SKIP LOCKED`), id).Scan(&dir, &d.Reason)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		d.OutputDir = deref(dir)
		rows, err := tx.Query(ctx, db.sql(`SELECT path FROM {s}.parquet_export_files WHERE request_id = $1 ORDER BY path`), id)
		if err != nil {
			return err
		}
		if d.Files, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		if err := remove(d); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_requests SET deleted_at = now() WHERE id = $1`), id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_files SET deleted_at = now() WHERE request_id = $1`), id); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("delete the files of request %d: %w", id, err)
	}
	return deleted, nil
}
