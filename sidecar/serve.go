package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/sql/control"
)

// serve runs one claimed request to its end and records the outcome. ctx is cancelled with a
// cause (errCancelRequested, errLeaseLost, errShutdown, errKilled) to stop the export early.
//
// The export is staged in a directory of the attempt's own; it is published (moved into the
// request's directory) only after the control tables recorded, under the attempt's lease,
// that this attempt is the one to publish. An attempt that lost its lease meanwhile removes
// its staged files and nothing else.
func (s *Sidecar) serve(ctx context.Context, j *job) {
	req := j.req
	log := s.log.With("request", req.ID, "table", req.TableName, "requester", req.Requester, "attempt", req.Attempt, "fence", req.Lease.Fence)
	log.Info("export started")
	var progress atomic.Pointer[export.Progress]
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	var hb sync.WaitGroup
	hb.Go(func() { s.heartbeat(hbCtx, j, &progress) })
	defer func() {
		stopHeartbeat()
		hb.Wait()
	}()

	staged, err := s.export(ctx, req, &progress)
	cause := context.Cause(ctx)
	switch {
	case s.killed.Load() || errors.Is(cause, errKilled):
		return
	case err == nil:
		s.publish(ctx, log, req, staged)
	case errors.Is(cause, errLeaseLost):
		log.Warn("export abandoned: its lease was lost", "err", err)
	case errors.Is(cause, errCancelRequested):
		if s.record(ctx, log, "cancellation", func(ctx context.Context, db control.DB) error {
			return s.q.Cancelled(ctx, db, req.Lease, "cancelled by request while running on "+s.cfg.ID)
		}) {
			s.metrics.finished(resultCancelled, nil)
			log.Info("export cancelled")
		}
	case errors.Is(cause, errShutdown):
		if s.record(ctx, log, "release", func(ctx context.Context, db control.DB) error {
			return s.q.Release(ctx, db, req.Lease, "released to the queue by "+s.cfg.ID+" at shutdown")
		}) {
			s.metrics.finished(resultReleased, nil)
			log.Info("export stopped by shutdown; request released to the queue")
		}
	default:
		retry := retryable(err)
		msg := oneLine(err)
		var state string
		if s.record(ctx, log, "failure", func(ctx context.Context, db control.DB) error {
			var err error
			state, err = s.q.Fail(ctx, db, req.Lease, msg, retry)
			return err
		}) {
			s.metrics.finished(state, nil)
			log.Warn("export failed", "err", msg, "state", state)
		}
	}
}

// publish records staged as the request's result under the attempt's lease, then moves its
// files into place and marks the request succeeded. Without the lease it discards them.
func (s *Sidecar) publish(ctx context.Context, log *slog.Logger, req *control.Request, staged *export.Staged) {
	res := staged.Result
	r := control.Result{Rows: res.Rows, CopyBytes: res.CopyBytes, OutputBytes: res.OutputBytes,
		Seconds: res.Seconds, Snapshot: res.Snapshot, LSN: res.LSN, Decoder: res.Decoder}
	for _, f := range res.Files {
		r.Files = append(r.Files, control.File{Path: path.Join(req.OutputDir, f.Name), Rows: f.Rows, Bytes: f.Bytes, SHA256: f.SHA256})
	}
	if !s.record(ctx, log, "result", func(ctx context.Context, db control.DB) error { return s.q.Publishing(ctx, db, req.Lease, r) }) {
		if err := staged.Discard(); err != nil {
			log.Warn("could not remove the attempt's staged files; the janitor will", "err", err)
		}
		return
	}
	if s.killed.Load() {
		return
	}
	if err := staged.Publish(); err != nil {
		msg := oneLine(err)
		log.Error("export could not be published", "err", msg)
		s.record(ctx, log, "failed publication", func(ctx context.Context, db control.DB) error {
			return s.q.PublishFailed(ctx, db, req.ID, req.Lease.Fence, msg)
		})
		s.metrics.finished("failed", nil)
		return
	}
	if s.record(ctx, log, "publication", func(ctx context.Context, db control.DB) error {
		return s.q.Published(ctx, db, req.ID, req.Lease.Fence)
	}) {
		s.metrics.finished(resultSucceeded, res)
		log.Info("export succeeded", "rows", res.Rows, "files", len(res.Files), "seconds", res.Seconds)
	}
}

// record writes an outcome, retrying across reconnections for up to a lease (after which
// another sidecar re-queues the request anyway). It reports whether the write succeeded.
func (s *Sidecar) record(ctx context.Context, log interface {
	Warn(string, ...any)
}, what string, write func(ctx context.Context, db control.DB) error) bool {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(s.cfg.Lease)
	for {
		err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error { return write(ctx, conn) })
		if err == nil {
			return true
		}
		if errors.Is(err, control.ErrLeaseLost) || time.Now().After(deadline) || s.killed.Load() {
			log.Warn("could not record the export's "+what, "err", err)
			return false
		}
		time.Sleep(time.Second)
	}
}

// export stages the export of req as its requester, on a connection of the requester's own
// login (never the sidecar's: code the requester wrote may run in the export's sessions).
func (s *Sidecar) export(ctx context.Context, req *control.Request, progress *atomic.Pointer[export.Progress]) (*export.Staged, error) {
	if req.Relation == "" {
		return nil, fmt.Errorf("table %s no longer exists", req.TableName)
	}
	var login control.Login
	err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		login, err = s.q.Login(ctx, conn, req.Requester)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkOutputDir(req.OutputDir); err != nil {
		return nil, err
	}
	parallel := req.Parallel
	if parallel == 0 {
		parallel = s.cfg.Parallel
	}
	if parallel > s.cfg.MaxParallel {
		return nil, fmt.Errorf("parallel %d is above this sidecar's maximum of %d", parallel, s.cfg.MaxParallel)
	}
	compression := req.Compression
	if compression == "" {
		compression = s.cfg.Compression
	}
	cfg := s.cfg.ConnConfig.Copy()
	cfg.User, cfg.Password = login.User, login.Password
	opts := export.Options{
		ConnConfig:     cfg,
		Table:          req.Relation,
		Columns:        req.Columns,
		Parallel:       parallel,
		Root:           s.root,
		OutputDir:      req.OutputDir,
		Tag:            req.Lease.StagingTag(),
		Compression:    compression,
		Role:           req.Requester,
		MaxOutputBytes: req.MaxOutputBytes,
		HugeRows:       s.huge,
		MinFreeBytes:   max(s.cfg.OutputReserve, 0),
		Progress:       func(p export.Progress) { progress.Store(&p) },
		Logger:         s.log.With("request", req.ID),
	}
	if s.hooks.onSnapshot != nil {
		opts.OnSnapshot = func(ctx context.Context, _, _ string) error { return s.hooks.onSnapshot(ctx, req) }
	}
	return export.Stage(ctx, opts)
}

// heartbeat renews the job's lease every Heartbeat (and at once when the job is poked) with
// the latest progress until ctx ends, and stops the export when the control tables say that
// cancellation was requested, or the lease is lost (or could not be renewed for a whole
// lease, after which another sidecar takes the request).
func (s *Sidecar) heartbeat(ctx context.Context, j *job, progress *atomic.Pointer[export.Progress]) {
	req := j.req
	ticker := time.NewTicker(s.cfg.Heartbeat)
	defer ticker.Stop()
	lastOK := time.Now()
	var written *export.Progress
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-j.look: // a notification: look at the request now
		}
		if s.killed.Load() {
			return
		}
		var p *control.Progress
		if cur := progress.Load(); cur != nil && cur != written {
			p = &control.Progress{Rows: cur.Rows, CopyBytes: cur.CopyBytes, EstimatedRows: cur.EstimatedRows,
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
		case errors.Is(err, control.ErrLeaseLost):
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

// retryable reports whether err is worth another attempt: the connection or the server went
// away (a restart, a network failure, a server-side timeout), a lock or serialization
// conflict, or the server ran short of resources. Errors the server reports about the request
// itself (permissions, bad names, data), including connection-class codes raised by SQL the
// export ran (which a requester's function can raise at will), and every file-system error
// (no space, name too long, file exists) would fail again: they are final.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "40001", "40P01", "55P03", "53000", "53100", "53200", "53300":
			return true
		}
		return false
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.ENAMETOOLONG, syscall.EFBIG,
		syscall.EEXIST, syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.ENOTDIR, syscall.EISDIR, syscall.ELOOP} {
		if errors.Is(err, errno) {
			return false
		}
	}
	var opErr *net.OpError
	var connErr *pgconn.ConnectError
	return errors.As(err, &opErr) || errors.As(err, &connErr) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || pgconn.Timeout(err)
}

// checkOutputDir refuses a request directory that is not a clean relative path (the control
// tables already enforce it; the files are in any case opened beneath the root).
func checkOutputDir(dir string) error {
	switch {
	case dir == "" || path.IsAbs(dir) || strings.ContainsRune(dir, 0):
		return fmt.Errorf("%w: %q", errOutsideRoot, dir)
	case path.Clean(dir) != dir || dir == "." || strings.HasPrefix(dir, "../") || dir == "..":
		return fmt.Errorf("%w: %q is not a clean path below the root", errOutsideRoot, dir)
	}
	return nil
}

// oneLine folds a (possibly joined) error into one line for the status table.
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}
