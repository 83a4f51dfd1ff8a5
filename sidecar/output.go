package sidecar

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/sql/control"
)

// errOutsideRoot is wrapped by every refusal of a request's output directory.
var errOutsideRoot = errors.New("output path refused")

// janitorBatch bounds the dead attempts cleaned up per poll.
const janitorBatch = 100

// janitor finishes what dead or frozen sidecars left: publications whose publisher stopped
// heartbeating are rolled forward (their files are already durable in the attempt's staging
// directory, and moving them is idempotent), and the staging directories of attempts that can
// no longer publish are removed, with the request's directory when the request no longer
// owns it and it is empty.
func (s *Sidecar) janitor(ctx context.Context) {
	if s.killed.Load() {
		return
	}
	var pubs []control.Publication
	err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		pubs, err = s.q.RollForward(ctx, conn, s.cfg.ID, s.cfg.Lease)
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("look for stalled publications failed; will retry", "err", err)
	}
	for _, p := range pubs {
		tag := control.Lease{Fence: p.Fence}.StagingTag()
		if err := export.Publish(s.root, p.OutputDir, tag); err != nil {
			s.log.Error("rolling a stalled publication forward failed", "request", p.ID, "err", err)
			s.record(ctx, s.log, "failed publication", func(ctx context.Context, db control.DB) error {
				return s.q.PublishFailed(ctx, db, p.ID, p.Fence, oneLine(err))
			})
			continue
		}
		if s.record(ctx, s.log, "publication", func(ctx context.Context, db control.DB) error {
			return s.q.Published(ctx, db, p.ID, p.Fence)
		}) {
			s.log.Warn("rolled a stalled publication forward", "request", p.ID, "fence", p.Fence)
		}
	}
	var dead []control.DeadAttempt
	err = s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		dead, err = s.q.DeadAttempts(ctx, conn, janitorBatch)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("look for dead attempts failed; will retry", "err", err)
		}
		return
	}
	for _, a := range dead {
		tag := control.Lease{Fence: a.Fence}.StagingTag()
		if err := checkOutputDir(a.OutputDir); err != nil {
			s.log.Warn("dead attempt's directory refused", "request", a.ID, "err", err)
		} else if err := export.DiscardStaging(s.root, a.OutputDir, tag, a.RemoveDir); err != nil {
			s.log.Warn("removing a dead attempt's files failed; will retry", "request", a.ID, "fence", a.Fence, "err", err)
			continue
		}
		if err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
			return s.q.AttemptCleaned(ctx, conn, a.ID, a.Fence)
		}); err != nil && ctx.Err() == nil {
			s.log.Warn("recording a cleaned attempt failed; will retry", "err", err)
		}
	}
}
