package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/snapshot"
	"github.com/pgparquet/pgparquet/sql/control"
)

// slotBusyDelay is how long a run whose chain's slot is in use waits in the queue.
const slotBusyDelay = 10 * time.Second

// serveRun runs one claimed run of an incremental chain (package incremental) and records its
// outcome. The run is published the way the chain publishes (a numbered directory inside the
// chain's, renamed into place with its manifest); the control tables record it publishing,
// under the attempt's lease, just before (incremental.Options.BeforePublish), so that an
// attempt that lost its lease never publishes. Only after the run is in place is the slot
// confirmed. A sidecar that dies in between leaves the request publishing: the janitor
// records it published if its run directory is complete, and queues it again otherwise
// (rollChains).
func (s *Sidecar) serveRun(ctx context.Context, log *slog.Logger, req *control.Request, progress *atomic.Pointer[outcome.Progress]) {
	var publishing atomic.Pointer[outcome.Result]
	res, err := s.runChain(ctx, log, req, progress, &publishing)
	if s.killed.Load() || errors.Is(context.Cause(ctx), errKilled) {
		return
	}
	if err != nil && publishing.Load() == nil {
		if errors.Is(err, incremental.ErrSlotActive) && context.Cause(ctx) == nil {
			if s.rec.record(ctx, log, "postponement", func(ctx context.Context) error {
				return s.db.Postpone(ctx, req.Lease, "its chain's slot is in use (another run, or the server has not yet noticed that one stopped); tried again shortly", slotBusyDelay)
			}) {
				s.metrics.finished(resultReleased, nil)
				log.Info("incremental run postponed: its slot is in use")
			}
			return
		}
		s.stopped(ctx, log, req, err)
		return
	}
	if err != nil {
		// Recorded publishing; whether the run is in place decides.
		res = publishing.Load()
		if !s.out.runPlaced(req.OutputDir, res.Incremental.Run, res.Incremental.Mode) {
			msg := oneLine(err)
			log.Error("incremental run could not be published; it will be run again", "err", msg)
			s.rec.record(ctx, log, "failed publication", func(ctx context.Context) error {
				return s.db.RepeatRun(ctx, req.ID, req.Lease.Fence, "its publication failed: "+msg)
			})
			s.metrics.finished("queued", nil)
			return
		}
		log.Warn("incremental run published, but", "err", oneLine(err))
	}
	if s.hooks.onPublish != nil {
		s.hooks.onPublish(s, "published-run")
	}
	if s.killed.Load() {
		return
	}
	inc := res.Incremental
	if req.IcebergTable != "" {
		s.commitChain(ctx, log, req, res)
	}
	// The chain first: once the request shows succeeded, the chain shows its run.
	s.rec.record(ctx, log, "chain's run", func(ctx context.Context) error {
		return s.db.ChainRan(ctx, req.ChainID, req.ID, inc.Run, inc.Mode, inc.ToLSN)
	})
	if s.rec.record(ctx, log, "publication", func(ctx context.Context) error {
		return s.db.Published(ctx, req.ID, req.Lease.Fence)
	}) {
		s.metrics.finished(resultSucceeded, res)
		log.Info("incremental run succeeded", "run", inc.Run, "mode", inc.Mode, "rows", res.Rows, "to_lsn", inc.ToLSN)
	}
}

// runChain performs the run: as its requester (the snapshot run's rows are read on the
// requester's login, under SET ROLE, as every export's), while the slot, the publication and
// the change stream are the sidecar's own (its role holds REPLICATION). A chain that is not
// active, or whose slot turns out lost, starts again from a snapshot. publishing holds the
// run's manifest once the run was recorded publishing.
func (s *Sidecar) runChain(ctx context.Context, log *slog.Logger, req *control.Request, progress *atomic.Pointer[outcome.Progress], publishing *atomic.Pointer[outcome.Result]) (*outcome.Result, error) {
	if s.out.root == nil {
		return nil, errors.New("mode incremental needs a local output root for now; this sidecar writes to object storage")
	}
	ch, err := s.db.Chain(ctx, req.ChainID)
	if err != nil {
		return nil, err
	}
	if ch.Ending {
		return nil, fmt.Errorf("incremental chain %d is being ended (parquet_export_chain_end, or its schedule was disabled or deleted): ask again once it is", ch.ID)
	}
	dir, err := s.out.chainDir(req.OutputDir)
	if err != nil {
		return nil, err
	}
	exp, err := s.exportOptions(ctx, req, progress)
	if err != nil {
		return nil, err
	}
	exp.OutputDir = dir
	exp.Logger = exp.Logger.With("chain", ch.ID)
	opts := incremental.Options{
		Export:    exp,
		Slot:      ch.Slot,
		Control:   s.cfg.ConnConfig,
		Requester: req.Requester,
		BeforePublish: func(ctx context.Context, res *outcome.Result) error {
			runDir := path.Join(req.OutputDir, incremental.RunDirName(res.Incremental.Run, res.Incremental.Mode))
			uri, err := s.out.uri(runDir)
			if err != nil {
				return err
			}
			if err := s.db.Publishing(ctx, req.Lease, s.out.location(runDir), uri, res); err != nil {
				return err
			}
			publishing.Store(res)
			if s.hooks.onPublish != nil {
				s.hooks.onPublish(s, "publishing")
			}
			if s.killed.Load() {
				return errKilled
			}
			return nil
		},
	}
	switch ch.State {
	case "broken":
		opts.Restart = ch.Reason
	case "dropped":
		opts.Restart = "the chain had been ended: " + ch.Reason
	}
	res, err := incremental.Run(ctx, opts)
	if incremental.NeedsSnapshot(err) && opts.Restart == "" && publishing.Load() == nil && ctx.Err() == nil {
		reason := oneLine(err)
		log.Warn("incremental chain broken; this run starts it again from a snapshot", "chain", ch.ID, "reason", reason)
		if err := s.db.ChainBroken(ctx, ch.ID, reason); err != nil {
			return nil, err
		}
		opts.Restart = reason
		res, err = incremental.Run(ctx, opts)
	}
	return res, err
}

// chainDir is the local path of a chain's directory, created if missing: below the output
// root, and reached through no symbolic link (the chain is written by path, not through the
// root's handle).
func (o *output) chainDir(dir string) (string, error) {
	if err := checkOutputDir(dir); err != nil {
		return "", err
	}
	if err := o.root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
		return "", fmt.Errorf("create chain directory %s: %w", dir, err)
	}
	full := filepath.Join(o.rootDir, filepath.FromSlash(dir))
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", fmt.Errorf("chain directory %s: %w", dir, err)
	}
	root, err := filepath.EvalSymlinks(o.rootDir)
	if err != nil {
		return "", fmt.Errorf("output root: %w", err)
	}
	if real != filepath.Join(root, filepath.FromSlash(dir)) {
		return "", fmt.Errorf("%w: %q reaches %s through a symbolic link", errOutsideRoot, dir, real)
	}
	return full, nil
}

// runPlaced says whether run number run (mode snapshot or changes) of the chain in dir (a
// clean relative directory) is in place in the local output root: its manifest is there.
func (o *output) runPlaced(dir string, run int, mode string) bool {
	if o.root == nil || checkOutputDir(dir) != nil {
		return false
	}
	_, err := o.root.Stat(filepath.Join(filepath.FromSlash(dir), incremental.RunDirName(run, mode), export.ManifestName))
	return err == nil
}

// tendChains ends the chains whose end was asked and breaks those whose slot holds back more
// WAL than their ceiling: it drops their slots (and publications) on a connection of the
// sidecar's own.
func (jn *janitor) tendChains(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	err := jn.db.TendChains(ctx, jn.cfg.MaxRetainedWAL, func(ctx context.Context, t control.ChainTask) error {
		if conn == nil {
			c, err := snapshot.Connect(ctx, jn.cfg.ConnConfig)
			if err != nil {
				return err
			}
			conn = c
		}
		if err := incremental.Drop(ctx, conn, t.Slot); err != nil {
			return err
		}
		if t.End {
			jn.log.Info("incremental chain ended: slot and publication dropped", "chain", t.ID, "slot", t.Slot)
		} else {
			jn.log.Warn("incremental chain broken: its slot held back too much WAL and was dropped; the next run starts again from a snapshot",
				"chain", t.ID, "slot", t.Slot, "retained_bytes", t.Retained, "ceiling_bytes", t.Ceiling)
			jn.metrics.chainsBroken.Add(1)
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		jn.log.Warn("tending incremental chains failed; will retry", "err", err)
	}
}

// rollChains settles the runs of chains whose publisher died while publishing: a run whose
// directory is in place is recorded published (its slot stays behind the chain; the next run
// starts at the chain's end), any other is queued again.
func (jn *janitor) rollChains(ctx context.Context) {
	pubs, err := jn.db.StalledChainPublications(ctx, jn.cfg.ID, jn.cfg.Lease)
	if err != nil && ctx.Err() == nil {
		jn.log.Warn("look for stalled incremental runs failed; will retry", "err", err)
	}
	for _, p := range pubs {
		if !jn.out.runPlaced(p.OutputDir, p.Run, p.Mode) {
			if jn.rec.record(ctx, jn.log, "run to repeat", func(ctx context.Context) error {
				return jn.db.RepeatRun(ctx, p.ID, p.Fence, "its sidecar stopped while publishing the run, before it was in place: run again")
			}) {
				jn.log.Warn("an incremental run stalled before it was in place; queued again", "request", p.ID)
			}
			continue
		}
		jn.rec.record(ctx, jn.log, "chain's run", func(ctx context.Context) error {
			return jn.db.ChainRan(ctx, p.ChainID, p.ID, p.Run, p.Mode, p.LSN)
		})
		if jn.rec.record(ctx, jn.log, "publication", func(ctx context.Context) error {
			return jn.db.Published(ctx, p.ID, p.Fence)
		}) {
			jn.log.Warn("recorded a stalled incremental run published", "request", p.ID, "run", p.Run)
		}
	}
}

// commitChain commits the chain's published runs that its Iceberg tables lack, oldest first:
// this run, and any whose commit failed or never happened (lakehouse.CommitChain: snapshot
// runs overwrite req's table, change runs with rows append to its changelog table). This
// run's snapshot is recorded on the request. A failed commit deletes nothing (the run is the
// chain's, its changes are nowhere else): the request's note says so, and the next run
// commits it first.
func (s *Sidecar) commitChain(ctx context.Context, log *slog.Logger, req *control.Request, res *outcome.Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), icebergTimeout)
	defer cancel()
	err := func() error {
		cat, err := s.lake.catalog(ctx, req.IcebergCatalog)
		if err != nil {
			return err
		}
		dir, err := s.out.chainDir(req.OutputDir)
		if err != nil {
			return err
		}
		published, err := incremental.PublishedRuns(dir)
		if err != nil {
			return err
		}
		runs := make([]lakehouse.ChainRun, len(published))
		for i, r := range published {
			uri, err := s.out.uri(path.Join(req.OutputDir, filepath.Base(r.Dir)))
			if err != nil {
				return err
			}
			runs[i] = lakehouse.ChainRun{Result: r.Manifest, Dir: uri}
		}
		done, err := cat.CommitChain(ctx, req.IcebergTable, runs, func(table string) (string, error) {
			return s.lake.location(req.RoleDir, table)
		})
		for i, ice := range done {
			if ice != nil && published[i].Manifest.Incremental.Run == res.Incremental.Run {
				log.Info("incremental run committed to its Iceberg table", "iceberg_table", req.IcebergTable, "snapshot", ice.SnapshotID)
				s.rec.record(ctx, log, "Iceberg snapshot", func(ctx context.Context) error {
					return s.db.IcebergCommitted(ctx, req.ID, req.Lease.Fence, ice.SnapshotID, ice.MetadataLocation)
				})
			}
		}
		return err
	}()
	if err != nil {
		msg := "not committed to Iceberg (the next run commits it first): " + oneLine(err)
		log.Warn("incremental run published, but not committed to Iceberg", "err", oneLine(err))
		s.rec.record(ctx, log, "note", func(ctx context.Context) error { return s.db.Note(ctx, req.ID, msg) })
	}
}
