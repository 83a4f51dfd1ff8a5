package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Chain is an incremental chain as parquet_export_chains holds it (migration 0010): the runs
// of requests in mode incremental that share a requester and a directory.
type Chain struct {
	ID        int64
	Requester string
	Table     string
	OutputDir string
	// Slot names the chain's logical slot and publication (made and dropped by the sidecar).
	Slot string
	// State is active (the next run streams from the slot), broken (the slot was dropped;
	// Reason says why) or dropped (the chain was ended); a run of a chain not active starts
	// again from a snapshot.
	State  string
	Reason string
	// Ending is set once the chain's end was asked and until the sidecar has ended it.
	Ending bool
	// MaxRetainedWAL is the chain's own ceiling on the WAL its slot may hold back (0: only
	// the sidecar's).
	MaxRetainedWAL int64
}

// Chain returns chain id.
func (db *DB) Chain(ctx context.Context, id int64) (Chain, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	var c Chain
	err := db.q.QueryRow(ctx, db.sql(`SELECT id, requester, table_name, output_dir, slot, state, coalesce(reason, ''),
			coalesce(max_retained_wal, 0), drop_requested_at IS NOT NULL AND state <> 'dropped'
		FROM {s}.parquet_export_chains WHERE id = $1`), id).
		Scan(&c.ID, &c.Requester, &c.Table, &c.OutputDir, &c.Slot, &c.State, &c.Reason, &c.MaxRetainedWAL, &c.Ending)
	if err != nil {
		return c, fmt.Errorf("read incremental chain %d: %w", id, err)
	}
	return c, nil
}

// ChainRan records that request requestID published run number run (mode snapshot or
// changes, ending at lsn) of chain id: the chain is active. A chain that was ended, and
// which this run started again, is no longer ended.
func (db *DB) ChainRan(ctx context.Context, id, requestID int64, run int, mode, lsn string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_chains
		SET state = 'active', last_request_id = $2, last_run = $3, last_run_mode = $4, last_lsn = $5::text::pg_lsn,
			last_run_at = now(),
			drop_requested_at = CASE WHEN state = 'dropped' THEN NULL ELSE drop_requested_at END,
			dropped_at = CASE WHEN state = 'dropped' THEN NULL ELSE dropped_at END
		WHERE id = $1`), id, requestID, run, mode, lsn); err != nil {
		return fmt.Errorf("record run %d of incremental chain %d: %w", run, id, err)
	}
	return nil
}

// ChainBroken records that chain id's slot is gone or unusable (reason says why): its next
// run starts again from a snapshot. An ended chain stays ended.
func (db *DB) ChainBroken(ctx context.Context, id int64, reason string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_chains SET state = 'broken', reason = $2, broken_at = now()
		WHERE id = $1 AND state <> 'dropped'`), id, reason); err != nil {
		return fmt.Errorf("record incremental chain %d as broken: %w", id, err)
	}
	return nil
}

// ChainTask is what the janitor is to do with a chain: end it (its end was asked), or break
// it (its slot holds back more WAL than its ceiling).
type ChainTask struct {
	ID       int64
	Slot     string
	End      bool
	Retained int64 // bytes of WAL the slot holds back
	Ceiling  int64 // the chain's ceiling, or the sidecar's when lower
}

// TendChains finds the chains that no run of is running whose end was asked, and the active
// ones whose slot holds back more WAL than the lower of their max_retained_wal and ceiling
// (the sidecar's), and calls tend for each with the chain's row locked (one sidecar tends a
// chain at a time, and no run of it publishes meanwhile). tend drops what it must and
// returns nil; the chain is then recorded dropped (End) or broken, with a reason saying
// why. A chain whose slot is in use (a run streams) is left for the next pass.
func (db *DB) TendChains(ctx context.Context, ceiling int64, tend func(ctx context.Context, t ChainTask) error) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	const candidates = `SELECT c.id, c.slot, c.drop_requested_at IS NOT NULL,
			coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint, 0),
			least(coalesce(c.max_retained_wal, $1), $1)
		FROM {s}.parquet_export_chains c
		LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = c.slot
		WHERE c.state <> 'dropped' AND NOT coalesce(s.active, false) AND NOT pg_catalog.pg_is_in_recovery()
			AND (c.drop_requested_at IS NOT NULL OR (c.state = 'active' AND s.restart_lsn IS NOT NULL
				AND pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn) > least(coalesce(c.max_retained_wal, $1), $1)))
			AND NOT EXISTS (SELECT FROM {s}.parquet_export_requests r WHERE r.chain_id = c.id AND r.state IN ('running', 'publishing'))`
	rows, err := db.q.Query(ctx, db.sql(candidates), ceiling)
	if err != nil {
		return fmt.Errorf("look for incremental chains to end or break: %w", err)
	}
	tasks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ChainTask])
	if err != nil {
		return fmt.Errorf("look for incremental chains to end or break: %w", err)
	}
	var errs []error
	for _, t := range tasks {
		err := pgx.BeginFunc(ctx, db.q, func(tx pgx.Tx) error {
			var again []ChainTask
			rows, err := tx.Query(ctx, db.sql(candidates+` AND c.id = $2 FOR UPDATE OF c SKIP LOCKED`), ceiling, t.ID)
			if err == nil {
				again, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ChainTask])
			}
			if err != nil || len(again) == 0 {
				return err
			}
			t = again[0]
			if err := tend(ctx, t); err != nil {
				return err
			}
			if t.End {
				_, err = tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_chains SET state = 'dropped', dropped_at = now(),
					reason = 'ended at ' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC: slot and publication dropped'
					WHERE id = $1`), t.ID)
				return err
			}
			_, err = tx.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_chains SET state = 'broken', broken_at = now(), reason = $2
				WHERE id = $1`), t.ID, fmt.Sprintf("the slot held back %s of WAL, past the ceiling of %s, at %s: it was dropped; the next run starts again from a snapshot",
				bytesText(t.Retained), bytesText(t.Ceiling), time.Now().UTC().Format("2006-01-02 15:04:05 UTC")))
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("incremental chain %d: %w", t.ID, err))
		}
	}
	return errors.Join(errs...)
}

// bytesText writes n bytes as pg_size_pretty does (1024-based units).
func bytesText(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	v, u := float64(n), 0
	for v >= 10*1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.0f %s", v, units[u])
}

// ChainPublication is a run of a chain in state publishing whose publisher stopped
// heartbeating: its run directory (RunDir, inside OutputDir) holds a manifest if the run was
// published, and nothing that counts otherwise.
type ChainPublication struct {
	ID        int64
	Fence     int64
	OutputDir string
	ChainID   int64
	Run       int
	Mode      string
	LSN       string
}

// StalledChainPublications takes over, for sidecar, the runs of chains publishing whose
// heartbeat is older than lease, renewing their heartbeat under sidecar's name.
func (db *DB) StalledChainPublications(ctx context.Context, sidecar string, lease time.Duration) ([]ChainPublication, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	return queryAll(ctx, db, "take over stalled runs of incremental chains", pgx.RowToStructByPos[ChainPublication],
		`UPDATE {s}.parquet_export_requests r SET claimed_by = $1, heartbeat_at = now()
		WHERE r.id IN (SELECT id FROM {s}.parquet_export_requests
			WHERE state = 'publishing' AND mode = 'incremental' AND heartbeat_at < now() - make_interval(secs => $2::float8)
			FOR UPDATE SKIP LOCKED)
		RETURNING r.id, r.published_fence, r.output_dir, r.chain_id, coalesce(r.chain_run, 0), coalesce(r.run_mode, ''),
			coalesce(r.lsn::text, '')`,
		sidecar, lease.Seconds())
}

// RepeatRun puts request id, whose publishing attempt fence died before its run was in
// place, back in the queue (the attempt counts): its run will be done again.
func (db *DB) RepeatRun(ctx context.Context, id, fence int64, note string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	_, err := db.q.Exec(ctx, db.sql(requestAndAttempt(`
			UPDATE {s}.parquet_export_requests
			SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END,
				finished_at = CASE WHEN cancel_requested_at IS NOT NULL OR attempt >= max_attempts THEN now() END,
				claimed_by = NULL, heartbeat_at = NULL, published_fence = NULL, note = $3,
				error = CASE WHEN attempt >= max_attempts AND cancel_requested_at IS NULL THEN $3 END
			WHERE id = $1 AND state = 'publishing' AND published_fence = $2 RETURNING id`,
		"$2", `finished_at = now(), outcome = 'lease lapsed'`, "")), id, fence, note)
	if err != nil {
		return fmt.Errorf("put request %d back in the queue: %w", id, err)
	}
	return nil
}

// Postpone puts the request under l back in the queue without counting the attempt, due
// after delay, with note saying why (its chain's slot is busy: lease contention, not a
// failure).
func (db *DB) Postpone(ctx context.Context, l Lease, note string, delay time.Duration) error {
	return db.release(ctx, l, "postpone", note, delay)
}

// ChainStatusColumns are the columns ChainStatus returns, in order.
var ChainStatusColumns = []string{"chain", "table", "requester", "state", "slot", "retained_wal", "chain_lsn",
	"confirmed_lsn", "last_run", "last_run_at", "schedule", "next_run", "output", "reason"}

// ChainStatus returns the rows of parquet_export_chain_status that the connected role may see
// (ended chains only when all is set), newest first, each value as text ("" for NULL),
// columns as ChainStatusColumns.
func (db *DB) ChainStatus(ctx context.Context, all bool, limit int) ([][]string, error) {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if limit <= 0 {
		limit = 20
	}
	return queryAll(ctx, db, "read "+db.schema+".parquet_export_chain_status", textRow(len(ChainStatusColumns)), `SELECT chain::text, table_name, requester::text, state, slot,
			coalesce(pg_catalog.pg_size_pretty(retained_wal_bytes), ''), coalesce(chain_lsn::text, ''),
			coalesce(confirmed_lsn::text, ''), coalesce(last_run || ' ' || last_run_mode, ''),
			coalesce(date_trunc('second', last_run_at)::text, ''), coalesce(schedule, ''),
			coalesce(date_trunc('second', next_run_at)::text, ''), output_dir, coalesce(reason, '')
		FROM {s}.parquet_export_chain_status
		WHERE $1 OR state <> 'dropped'
		ORDER BY chain DESC LIMIT $2`, all, limit)
}

// Note sets request id's note (what a succeeded request's user should know).
func (db *DB) Note(ctx context.Context, id int64, note string) error {
	ctx, cancel := db.op(ctx)
	defer cancel()
	if _, err := db.q.Exec(ctx, db.sql(`UPDATE {s}.parquet_export_requests SET note = $2 WHERE id = $1`), id, note); err != nil {
		return fmt.Errorf("record the note of request %d: %w", id, err)
	}
	return nil
}
