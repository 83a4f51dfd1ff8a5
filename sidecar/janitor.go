package sidecar

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/sql/control"
)

// errOutsideRoot is wrapped by every refusal of a request's output directory.
var errOutsideRoot = errors.New("output path refused")

// janitorBatch bounds the dead attempts cleaned up per poll.
const janitorBatch = 100

// janitor finishes what dead or frozen sidecars left, every PollInterval: requests whose
// sidecar stopped heartbeating go back to the queue (or fail); publications whose publisher
// stopped heartbeating are rolled forward (their files are already durable in the attempt's
// staging directory, and moving them is idempotent); the staging directories of attempts
// that can no longer publish are removed, with the request's directory when no attempt is
// using it and it is empty; and exports past their retention, or whose deletion was asked,
// have their files removed (retention.go). Several sidecars' janitors may run at once: each
// row is taken with SKIP LOCKED.
type janitor struct {
	db      *control.DB
	cfg     *Config
	log     *slog.Logger
	out     *output
	lake    *lakehouses
	metrics *metrics
	rec     recorder
	killed  *atomic.Bool
	claimer *claimer // poked when requests went back to the queue
	wake    chan struct{}
}

// poke makes the janitor look now (an export's deletion was asked).
func (jn *janitor) poke() {
	select {
	case jn.wake <- struct{}{}:
	default:
	}
}

// Run cleans up at once and every PollInterval until ctx ends.
func (jn *janitor) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-jn.wake:
			timer.Stop()
		}
		if !jn.killed.Load() {
			if err := jn.db.SidecarSeen(ctx, jn.cfg.ID); err != nil && ctx.Err() == nil {
				jn.log.Warn("could not record the sidecar alive", "err", err)
			}
			if jn.requeueStale(ctx) {
				jn.claimer.poke()
			}
			jn.rollForward(ctx)
			jn.rollChains(ctx)
			jn.cleanDeadAttempts(ctx)
			jn.tendChains(ctx)
			jn.expire(ctx)
			jn.deleteExports(ctx)
		}
		timer.Reset(jn.cfg.PollInterval)
	}
}

// requeueStale puts back the requests of sidecars that stopped heartbeating; it reports
// whether any went back to the queue.
func (jn *janitor) requeueStale(ctx context.Context) bool {
	stale, err := jn.db.RequeueStale(ctx, jn.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			jn.log.Warn("requeue of stale requests failed; will retry", "err", err)
		}
		return false
	}
	queued := false
	for _, st := range stale {
		jn.log.Warn("request's lease lapsed", "request", st.ID, "dead_sidecar", st.Sidecar, "attempt", st.Attempt, "state", st.State)
		jn.metrics.stale.Add(1)
		queued = queued || st.State == "queued"
	}
	return queued
}

// rollForward moves the files of stalled publications into place, commits those that name an
// Iceberg table (again: a commit the dead publisher made is found by its request id and not
// repeated; a failed one deletes the files and fails the request), and records them.
func (jn *janitor) rollForward(ctx context.Context) {
	pubs, err := jn.db.RollForward(ctx, jn.cfg.ID, jn.cfg.Lease)
	if err != nil && ctx.Err() == nil {
		jn.log.Warn("look for stalled publications failed; will retry", "err", err)
	}
	for _, p := range pubs {
		tag := control.Lease{Fence: p.Fence}.StagingTag()
		if err := jn.out.publish(ctx, p.OutputDir, tag); err != nil {
			jn.log.Error("rolling a stalled publication forward failed", "request", p.ID, "err", err)
			jn.rec.record(ctx, jn.log, "failed publication", func(ctx context.Context) error {
				return jn.db.PublishFailed(ctx, p.ID, p.Fence, oneLine(err))
			})
			continue
		}
		if p.IcebergTable != "" && !commitPublished(ctx, jn.log.With("request", p.ID), jn.db, jn.rec, jn.lake, jn.metrics, rolledCommit(p, export.Version)) {
			continue
		}
		if jn.rec.record(ctx, jn.log, "publication", func(ctx context.Context) error {
			return jn.db.Published(ctx, p.ID, p.Fence)
		}) {
			jn.log.Warn("rolled a stalled publication forward", "request", p.ID, "fence", p.Fence)
		}
	}
}

// cleanDeadAttempts removes the staging directories of up to janitorBatch dead attempts.
func (jn *janitor) cleanDeadAttempts(ctx context.Context) {
	dead, err := jn.db.DeadAttempts(ctx, janitorBatch)
	if err != nil {
		if ctx.Err() == nil {
			jn.log.Warn("look for dead attempts failed; will retry", "err", err)
		}
		return
	}
	for _, a := range dead {
		tag := control.Lease{Fence: a.Fence}.StagingTag()
		if err := checkOutputDir(a.OutputDir); err != nil {
			jn.log.Warn("dead attempt's directory refused", "request", a.ID, "err", err)
		} else if err := jn.out.discardStaging(ctx, a.OutputDir, tag, a.RemoveDir); err != nil {
			jn.log.Warn("removing a dead attempt's files failed; will retry", "request", a.ID, "fence", a.Fence, "err", err)
			continue
		}
		if err := jn.db.AttemptCleaned(ctx, a.ID, a.Fence); err != nil && ctx.Err() == nil {
			jn.log.Warn("recording a cleaned attempt failed; will retry", "err", err)
		}
	}
}
