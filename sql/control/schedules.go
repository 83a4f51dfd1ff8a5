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
func (q *Queries) EnabledSchedules(ctx context.Context, db DB) ([]Schedule, error) {
	rows, err := db.Query(ctx, q.sql(`SELECT id, name, cron, timezone, slots_from, last_slot, next_run_at,
			coalesce(error, '')
		FROM {s}.parquet_export_schedules WHERE enabled ORDER BY id`))
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Schedule, error) {
		var s Schedule
		err := row.Scan(&s.ID, &s.Name, &s.Cron, &s.Timezone, &s.SlotsFrom, &s.LastSlot, &s.NextRunAt, &s.Error)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read schedules: %w", err)
	}
	return out, nil
}

// SetScheduleNext records when schedule s runs next. It does nothing when the schedule changed
// since it was read, or its row is locked (by its owner: the next tick tries again).
func (q *Queries) SetScheduleNext(ctx context.Context, db DB, s Schedule, next time.Time) error {
	_, err := db.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_schedules SET next_run_at = $3
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
func (q *Queries) SetScheduleError(ctx context.Context, db DB, s Schedule, errText string) error {
	_, err := db.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_schedules SET error = $3, next_run_at = NULL
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
func (q *Queries) QueueSlot(ctx context.Context, db DB, s Schedule, slot, next time.Time) (Queued, error) {
	var out Queued
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var last *time.Time
		err := tx.QueryRow(ctx, q.sql(`SELECT last_slot FROM {s}.parquet_export_schedules
			WHERE id = $1 AND enabled AND slots_from = $2 FOR UPDATE SKIP LOCKED`), s.ID, s.SlotsFrom).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // changed, disabled or deleted meanwhile, or locked by its owner: next tick
		}
		if err != nil {
			return err
		}
		if last != nil && !last.Before(slot) {
			_, err := tx.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_schedules SET next_run_at = $2
				WHERE id = $1 AND (next_run_at IS NULL OR next_run_at < $2)`), s.ID, next)
			return err
		}
		if _, err := tx.Exec(ctx, `SAVEPOINT queue_slot`); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, q.sql(`INSERT INTO {s}.parquet_export_requests
				(table_name, columns, compression, parallel, output_path, priority, max_attempts, schedule_id, schedule_slot)
			SELECT s.table_name,
				(SELECT array_agg(c) FROM jsonb_array_elements_text(s.options -> 'columns') c),
				s.options ->> 'compression', (s.options ->> 'parallel')::int,
				replace(s.options ->> 'output_path', '{slot}', to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')),
				coalesce((s.options ->> 'priority')::int, 0), coalesce((s.options ->> 'max_attempts')::int, 3),
				s.id, $2
			FROM {s}.parquet_export_schedules s WHERE s.id = $1
			ON CONFLICT (schedule_id, schedule_slot) DO NOTHING
			RETURNING id`), s.ID, slot).Scan(&out.RequestID)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			out.Created = true
		case errors.Is(err, pgx.ErrNoRows):
			if err := tx.QueryRow(ctx, q.sql(`SELECT id FROM {s}.parquet_export_requests
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
		_, err = tx.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_schedules
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
func (q *Queries) TryLead(ctx context.Context, db DB, sidecar string, ttl time.Duration) (bool, error) {
	tag, err := db.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_leases
		SET holder = $1, expires_at = now() + make_interval(secs => $2::float8)
		WHERE name = 'scheduler' AND (holder IS NULL OR holder = $1 OR expires_at < now())`), sidecar, ttl.Seconds())
	if err != nil {
		return false, fmt.Errorf("try the scheduling lead of schema %s: %w", q.schema, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResignLead gives up sidecar's scheduling lead, if it holds it.
func (q *Queries) ResignLead(ctx context.Context, db DB, sidecar string) error {
	if _, err := db.Exec(ctx, q.sql(`UPDATE {s}.parquet_export_leases SET holder = NULL, expires_at = NULL
		WHERE name = 'scheduler' AND holder = $1`), sidecar); err != nil {
		return fmt.Errorf("resign the scheduling lead of schema %s: %w", q.schema, err)
	}
	return nil
}
