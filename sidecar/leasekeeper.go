package sidecar

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/sql/control"
)

// leaseKeeper holds the lease of one running export: it renews it with the latest progress,
// and stops the export (job.cancel) when the request's row says that cancellation was asked,
// when the lease is lost, or when it could not be renewed for a whole lease (after which
// another sidecar takes the request). The export writes progress; only the keeper reads it.
type leaseKeeper struct {
	db        *control.DB
	log       *slog.Logger
	heartbeat time.Duration
	lease     time.Duration
	killed    *atomic.Bool
	job       *job
	progress  *atomic.Pointer[outcome.Progress]
}

// Run renews the lease every heartbeat, and at once when the job is poked, until ctx ends or
// it stopped the export.
func (k *leaseKeeper) Run(ctx context.Context) {
	j := k.job
	ticker := time.NewTicker(k.heartbeat)
	defer ticker.Stop()
	lastOK := time.Now()
	var written *outcome.Progress
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-j.look: // a notification: look at the request now
		}
		if k.killed.Load() {
			return
		}
		var p *outcome.Progress
		if cur := k.progress.Load(); cur != nil && cur != written {
			p, written = cur, cur
		}
		// Not ctx: stopping the keeper mid-query would close the control connection.
		cancelRequested, err := k.db.Heartbeat(context.WithoutCancel(ctx), j.req.Lease, p)
		switch {
		case errors.Is(err, control.ErrLeaseLost):
			j.cancel(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if time.Since(lastOK) > k.lease {
				j.cancel(errLeaseLost)
				return
			}
			k.log.Warn("heartbeat failed; will retry", "request", j.req.ID, "err", err)
		case cancelRequested:
			j.cancel(errCancelRequested)
			return
		default:
			lastOK = time.Now()
		}
	}
}
