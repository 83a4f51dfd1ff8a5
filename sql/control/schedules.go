package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Schedule is an enabled schedule as the scheduling sidecar sees it.
type Schedule struct {
	ID       int64
	Name     string
	Cron     string
	Timezone string
	// SlotsFrom is when the schedule was created, changed or re-enabled: only slots after it
	// run. It also versions the schedule: the writes below are conditional on it, so a schedule
	// changed meanwhile is left alone.
	SlotsFrom time.Time
	LastSlot  *time.Time // the latest slot queued, nil before the first
	NextRunAt *time.Time // the next slot due, nil until the sidecar computed it
	Error     string     // why the schedule does not run (its spec), or why its last slot failed
}

// EnabledSchedules returns every enabled schedule, by id.
func (db *DB) EnabledSchedules(ctx context.Context) ([]Schedule, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "read schedules", func(row pgx.CollectableRow) (Schedule, error) {
		var s Schedule
		err := row.Scan(&s.ID, &s.Name, &s.Cron, &s.Timezone, &s.SlotsFrom, &s.LastSlot, &s.NextRunAt, &s.Error)
		return s, err
	}, `SELECT id, name, cron, timezone, slots_from, last_slot, next_run_at,
			coalesce(error, '')
		FROM {s}.parquet_export_schedules WHERE enabled ORDER BY id`)
}

// SetScheduleNext records when schedule s runs next. It does nothing when the schedule changed
// since it was read, or its row is locked (by its owner: the next tick tries again).
func (db *DB) SetScheduleNext(ctx context.Context, s Schedule, next time.Time) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_schedules SET next_run_at = $3
		WHERE id = (SELECT id FROM {s}.parquet_export_schedules
			WHERE id = $1 AND slots_from = $2 AND next_run_at IS DISTINCT FROM $3 FOR UPDATE SKIP LOCKED)`), s.ID, s.SlotsFrom, next)
	if err != nil {
		return fmt.Errorf("record next run of schedule %s: %w", s.Name, err)
	}
	return nil
}

// SetScheduleError records why schedule s cannot run (a spec the sidecar cannot parse): it
// gets no next run until its spec or time zone changes. It does nothing when the schedule
// changed since it was read.
func (db *DB) SetScheduleError(ctx context.Context, s Schedule, errText string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_schedules SET error = $3, next_run_at = NULL
		WHERE id = (SELECT id FROM {s}.parquet_export_schedules
			WHERE id = $1 AND slots_from = $2 AND error IS DISTINCT FROM $3 FOR UPDATE SKIP LOCKED)`), s.ID, s.SlotsFrom, errText)
	if err != nil {
		return fmt.Errorf("record error of schedule %s: %w", s.Name, err)
	}
	return nil
}

// Queued is what QueueSlot did.
type Queued struct {
	// RequestID is the slot's request: the one created, or the one a concurrent leader
	// created first. Zero when nothing was queued.
	RequestID int64
	// Created is true when this call created the request.
	Created bool
	// Error is set when the slot's request could not be created (the table was dropped, an
	// option is invalid): the slot is counted as run and the error recorded on the schedule.
	Error string
}

// QueueSlot queues the request of schedule s for slot and records slot as its last run and
// next as its next, in one transaction with the schedule's row locked. A slot not after the
// schedule's last one is never queued, and the unique (schedule_id, schedule_slot)
// constraint backs that, so each slot becomes at most one request however many sidecars
// think they lead. The request is inserted by the control tables' owner, so the insert
// trigger makes the schedule's owner its requester. An error of the request's own making
// (see Queued.Error) is recorded on the schedule rather than returned; a returned error
// (connection, ...) leaves everything as it was, for a retry.
func (db *DB) QueueSlot(ctx context.Context, s Schedule, slot, next time.Time) (Queued, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var out Queued
	err := pgx.BeginFunc(ctx, db.q, func(tx pgx.Tx) error {
		var last *time.Time
		err := tx.QueryRow(ctx, db.sql(`SELECT last_slot FROM {s}.parquet_export_schedules
			WHERE id = $1 AND enabled AND slots_from = $2 FOR UPDATE SKIP LOCKED`), s.ID, s.SlotsFrom).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // changed, disabled or deleted meanwhile, or locked by its owner: next tick
		}
		if err != nil {
			return err
		}
		if last != nil && !last.Before(slot) {
			_, err := tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_schedules SET next_run_at = $2
				WHERE id = $1 AND (next_run_at IS NULL OR next_run_at < $2)`), s.ID, next)
			return err
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT queue_slot`); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, db.sql(`INSERT INTO {s}.parquet_export_requests
				(table_name, columns, compression, parallel, output_path, priority, max_attempts, keep_for, format,
				 iceberg_table, iceberg_catalog, schedule_id, schedule_slot, mode, max_retained_wal)
			SELECT s.table_name,
				(SELECT array_agg(c) FROM jsonb_array_elements_text(s.options -> 'columns') c),
				s.options ->> 'compression', (s.options ->> 'parallel')::int,
				replace(s.options ->> 'output_path', '{slot}', to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')),
				coalesce((s.options ->> 'priority')::int, 0), coalesce((s.options ->> 'max_attempts')::int, 3),
				(s.options ->> 'keep_for')::interval, {s}.parquet_export_format_of(s.options),
				s.options ->> 'iceberg_table', s.options ->> 'iceberg_catalog', s.id, $2,
				coalesce(s.options ->> 'mode', 'full'), {s}.parquet_export_size_option('max_retained_wal', s.options -> 'max_retained_wal')
			FROM {s}.parquet_export_schedules s WHERE s.id = $1
			ON CONFLICT (schedule_id, schedule_slot) DO NOTHING
			RETURNING id`), s.ID, slot).Scan(&out.RequestID)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			out.Created = true
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, db.sql(`SELECT id FROM {s}.parquet_export_requests
				WHERE schedule_id = $1 AND schedule_slot = $2`), s.ID, slot).Scan(&out.RequestID); err != nil {
				return err
			}
		case errors.As(err, &pgErr) && requestError(pgErr.Code):
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT queue_slot`); err != nil {
				return err
			}
			out.Error = fmt.Sprintf("slot %s: %s", slot.UTC().Format(time.RFC3339), pgErr.Message)
		default:
			return err
		}
		var reqID *int64
		if out.RequestID != 0 {
			reqID = &out.RequestID
		}
		var errText *string
		if out.Error != "" {
			errText = &out.Error
		}
		_, err = tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_schedules
			SET last_slot = $2, last_request_id = coalesce($3, last_request_id), last_run_at = now(),
				next_run_at = $4, error = $5
			WHERE id = $1`), s.ID, slot, reqID, next, errText)
		return err
	})
	if err != nil {
		return Queued{}, fmt.Errorf("queue slot %s of schedule %s: %w", slot.UTC().Format(time.RFC3339), s.Name, err)
	}
	return out, nil
}

// requestError reports whether an error code says the request itself is wrong (bad data,
// a constraint, an unknown or forbidden table, a trigger's refusal) rather than the
// connection or the server being in trouble.
func requestError(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "22", "23", "42", "P0":
		return true
	}
	return false
}

// TryLead makes sidecar the scheduling leader of the schema's schedules until ttl from now,
// when nobody leads, the lead expired, or sidecar already leads (a renewal); it reports
// whether sidecar leads. The lead is a row only the sidecars' role can read or lock, so no
// other role can hold it; a leader that stops renewing loses it after ttl.
func (db *DB) TryLead(ctx context.Context, sidecar string, ttl time.Duration) (bool, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	tag, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_leases
		SET holder = $1, expires_at = now() + make_interval(secs => $2::float8)
		WHERE name = 'scheduler' AND (holder IS NULL OR holder = $1 OR expires_at < now())`), sidecar, ttl.Seconds())
	if err != nil {
		return false, fmt.Errorf("try the scheduling lead of schema %s: %w", db.schema, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResignLead gives up sidecar's scheduling lead, if it holds it.
func (db *DB) ResignLead(ctx context.Context, sidecar string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_leases SET holder = NULL, expires_at = NULL
		WHERE name = 'scheduler' AND holder = $1`), sidecar); err != nil {
		return fmt.Errorf("resign the scheduling lead of schema %s: %w", db.schema, err)
	}
	return nil
}
