package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/export"
	pqsql "github.com/pgparquet/pgparquet/sql"
)

// serve runs one claimed request to its end and records the outcome. ctx is cancelled with a
// cause (errCancelRequested, errLeaseLost, errShutdown, errKilled) to stop the export early.
func (s *Sidecar) serve(ctx context.Context, req *pqsql.Request) {
	log := s.log.With("request", req.ID, "table", req.TableName, "requester", req.Requester, "attempt", req.Attempt)
	log.Info("export started")
	var progress atomic.Pointer[export.Progress]
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	var hb sync.WaitGroup
	hb.Go(func() { s.heartbeat(hbCtx, req, &progress) })

	res, sub, err := s.export(ctx, req, &progress)
	stopHeartbeat()
	hb.Wait()

	cause := context.Cause(ctx)
	switch {
	case s.killed.Load() || errors.Is(cause, errKilled):
		return
	case err == nil:
		r := pqsql.Result{OutputDir: res.OutputDir, Rows: res.Rows, CopyBytes: res.CopyBytes,
			OutputBytes: res.OutputBytes, Seconds: res.Seconds, Snapshot: res.Snapshot, LSN: res.LSN,
			Decoder: res.Decoder}
		for _, f := range res.Files {
			r.Files = append(r.Files, pqsql.File{Path: path.Join(sub, f.Name), Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256})
		}
		if s.record(ctx, log, "result", func(ctx context.Context, db pqsql.DB) error { return s.q.Succeed(ctx, db, req.Lease, r) }) {
			s.metrics.finished(resultSucceeded, res)
			log.Info("export succeeded", "rows", res.Rows, "files", len(res.Files), "seconds", res.Seconds)
		}
	case errors.Is(cause, errLeaseLost):
		log.Warn("export abandoned: its lease was lost", "err", err)
	case errors.Is(cause, errCancelRequested):
		if s.record(ctx, log, "cancellation", func(ctx context.Context, db pqsql.DB) error {
			return s.q.Cancelled(ctx, db, req.Lease, "cancelled by request while running on "+s.cfg.ID)
		}) {
			s.metrics.finished(resultCancelled, nil)
			log.Info("export cancelled")
		}
	case errors.Is(cause, errShutdown):
		if s.record(ctx, log, "release", func(ctx context.Context, db pqsql.DB) error {
			return s.q.Release(ctx, db, req.Lease, "released to the queue by "+s.cfg.ID+" at shutdown")
		}) {
			s.metrics.finished(resultReleased, nil)
			log.Info("export stopped by shutdown; request released to the queue")
		}
	default:
		retry := retryable(err)
		msg := oneLine(err)
		var state string
		if s.record(ctx, log, "failure", func(ctx context.Context, db pqsql.DB) error {
			var err error
			state, err = s.q.Fail(ctx, db, req.Lease, msg, retry)
			return err
		}) {
			s.metrics.finished(state, nil)
			log.Warn("export failed", "err", msg, "state", state)
		}
	}
}

// record writes an outcome, retrying across reconnections for up to a lease (after which
// another sidecar re-queues the request anyway). It reports whether the write succeeded.
func (s *Sidecar) record(ctx context.Context, log interface {
	Warn(string, ...any)
}, what string, write func(ctx context.Context, db pqsql.DB) error) bool {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(s.cfg.Lease)
	for {
		err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error { return write(ctx, conn) })
		if err == nil {
			return true
		}
		if errors.Is(err, pqsql.ErrLeaseLost) || time.Now().After(deadline) || s.killed.Load() {
			log.Warn("could not record the export's "+what, "err", err)
			return false
		}
		time.Sleep(time.Second)
	}
}

// export runs the export of req; it returns the result and the output sub-path.
func (s *Sidecar) export(ctx context.Context, req *pqsql.Request, progress *atomic.Pointer[export.Progress]) (*export.Result, string, error) {
	if req.Relation == "" {
		return nil, "", fmt.Errorf("table %s no longer exists", req.TableName)
	}
	var canServe bool
	var self string
	err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		if err := conn.QueryRow(ctx, `SELECT current_user::text`).Scan(&self); err != nil {
			return err
		}
		var err error
		canServe, err = s.q.CanSetRole(ctx, conn, req.Requester)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("check the requester's role: %w", err)
	}
	if !canServe {
		return nil, "", fmt.Errorf("the sidecar's role %s is not a member of role %s, so it cannot export on its behalf (GRANT %s TO %s)",
			self, req.Requester, pgx.Identifier{req.Requester}.Sanitize(), pgx.Identifier{self}.Sanitize())
	}
	sub := req.OutputPath
	if sub == "" {
		sub = defaultOutputPath(req.Relation, req.ID)
	}
	dir, sub, err := resolveOutput(s.cfg.OutputRoot, sub)
	if err != nil {
		return nil, "", err
	}
	parallel := req.Parallel
	if parallel == 0 {
		parallel = s.cfg.Parallel
	}
	if parallel > s.cfg.MaxParallel {
		return nil, "", fmt.Errorf("parallel %d is above this sidecar's maximum of %d", parallel, s.cfg.MaxParallel)
	}
	compression := req.Compression
	if compression == "" {
		compression = s.cfg.Compression
	}
	opts := export.Options{
		ConnConfig:  s.cfg.ConnConfig.Copy(),
		Table:       req.Relation,
		Columns:     req.Columns,
		Parallel:    parallel,
		OutputDir:   dir,
		Overwrite:   req.Attempt > 1, // a dead earlier attempt may have left partial files
		Compression: compression,
		Role:        req.Requester,
		Progress:    func(p export.Progress) { progress.Store(&p) },
		Logger:      s.log.With("request", req.ID),
	}
	if s.hooks.onSnapshot != nil {
		opts.OnSnapshot = func(ctx context.Context, _, _ string) error { return s.hooks.onSnapshot(ctx, req) }
	}
	res, err := export.Run(ctx, opts)
	return res, sub, err
}

// heartbeat renews req's lease every Heartbeat with the latest progress until ctx ends, and
// stops the export when cancellation was requested or the lease is lost (or could not be
// renewed for a whole lease, after which another sidecar takes the request).
func (s *Sidecar) heartbeat(ctx context.Context, req *pqsql.Request, progress *atomic.Pointer[export.Progress]) {
	ticker := time.NewTicker(s.cfg.Heartbeat)
	defer ticker.Stop()
	lastOK := time.Now()
	var written *export.Progress
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if s.killed.Load() {
			return
		}
		var p *pqsql.Progress
		if cur := progress.Load(); cur != nil && cur != written {
			p = &pqsql.Progress{Rows: cur.Rows, CopyBytes: cur.CopyBytes, EstimatedRows: cur.EstimatedRows,
				TasksDone: cur.TasksDone, Tasks: cur.Tasks}
			written = cur
		}
		var cancelRequested bool
		// Not hbCtx: stopping the heartbeat mid-query would close the control connection.
		err := s.ctl.do(context.WithoutCancel(ctx), func(ctx context.Context, conn *pgx.Conn) error {
			var err error
			cancelRequested, err = s.q.Heartbeat(ctx, conn, req.Lease, p)
			return err
		})
		switch {
		case errors.Is(err, pqsql.ErrLeaseLost):
			s.cancelJob(req.ID, errLeaseLost)
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			if time.Since(lastOK) > s.cfg.Lease {
				s.cancelJob(req.ID, errLeaseLost)
				return
			}
			s.log.Warn("heartbeat failed; will retry", "request", req.ID, "err", err)
		case cancelRequested:
			s.cancelJob(req.ID, errCancelRequested)
			return
		default:
			lastOK = time.Now()
		}
	}
}

// retryable reports whether err is a connection failure worth another attempt (server
// restart, network), as opposed to one that would fail again (permissions, bad names).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connErr) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || pgconn.Timeout(err)
}

// oneLine folds a (possibly joined) error into one line for the status table.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
