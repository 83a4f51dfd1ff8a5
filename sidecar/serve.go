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

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/sql/control"
)

// serve runs one claimed request to its end and records the outcome. ctx is cancelled with a
// cause (errCancelRequested, errLeaseLost, errShutdown, errKilled) to stop the export early.
//
// The export is staged in a directory of the attempt's own; it is published (moved into the
// request's directory) only after the control tables recorded, under the attempt's lease,
// that this attempt is the one to publish (state publishing). A request that names an Iceberg
// table is committed to it after the files are published and before the request is recorded
// published (commitPublished). An attempt that lost its lease
// meanwhile removes its staged files and nothing else.
func (s *Sidecar) serve(ctx context.Context, j *job) {
	req := j.req
	log := s.log.With("request", req.ID, "table", req.TableName, "requester", req.Requester, "attempt", req.Attempt, "fence", req.Lease.Fence)
	log.Info("export started")
	var progress atomic.Pointer[outcome.Progress]
	keeper := &leaseKeeper{db: s.db, log: s.log, heartbeat: s.cfg.Heartbeat, lease: s.cfg.Lease,
		killed: &s.killed, job: j, progress: &progress}
	keeperCtx, stopKeeper := context.WithCancel(context.WithoutCancel(ctx))
	var kept sync.WaitGroup
	kept.Go(func() { keeper.Run(keeperCtx) })
	defer func() {
		stopKeeper()
		kept.Wait()
	}()

	if req.Incremental {
		s.serveRun(ctx, log, req, &progress)
		return
	}
	// Stage.
	staged, err := s.export(ctx, req, &progress)
	if err != nil || s.killed.Load() || errors.Is(context.Cause(ctx), errKilled) {
		s.stopped(ctx, log, req, err)
		return
	}
	// Publishing: this attempt, under its lease, becomes the one to publish.
	res := staged.Result
	dirURI, err := s.out.uri(req.OutputDir)
	if err != nil {
		s.stopped(ctx, log, req, err)
		if err := staged.Discard(); err != nil {
			log.Warn("could not remove the attempt's staged files; the janitor will", "err", err)
		}
		return
	}
	if !s.rec.record(ctx, log, "result", func(ctx context.Context) error {
		return s.db.Publishing(ctx, req.Lease, s.out.location(req.OutputDir), dirURI, res)
	}) {
		if err := staged.Discard(); err != nil {
			log.Warn("could not remove the attempt's staged files; the janitor will", "err", err)
		}
		return
	}
	if s.hooks.onPublish != nil {
		s.hooks.onPublish(s, "publishing")
	}
	if s.killed.Load() {
		return
	}
	// Publish: move the files into place.
	if err := staged.Publish(); err != nil {
		msg := oneLine(err)
		log.Error("export could not be published", "err", msg)
		s.rec.record(ctx, log, "failed publication", func(ctx context.Context) error {
			return s.db.PublishFailed(ctx, req.ID, req.Lease.Fence, msg)
		})
		s.metrics.finished("failed", nil)
		return
	}
	// Committed, when the request names an Iceberg table: the table only ever references
	// published files. A failed commit deletes the files and fails the request.
	if req.IcebergTable != "" && !commitPublished(ctx, log, s.db, s.rec, s.lake, s.metrics, s.servedCommit(req, dirURI, res)) {
		return
	}
	if s.hooks.onPublish != nil {
		s.hooks.onPublish(s, "committed")
	}
	if s.killed.Load() {
		return
	}
	// Published.
	if s.rec.record(ctx, log, "publication", func(ctx context.Context) error {
		return s.db.Published(ctx, req.ID, req.Lease.Fence)
	}) {
		s.metrics.finished(resultSucceeded, res)
		log.Info("export succeeded", "rows", res.Rows, "files", len(res.Files), "seconds", res.Seconds)
	}
}

// stopped records the outcome of an export that did not stage, by the cause of its stop:
// nothing when the sidecar was killed or the lease lost, else a cancellation, a release to the
// queue (shutdown) or a failure (err), which may be retried.
func (s *Sidecar) stopped(ctx context.Context, log *slog.Logger, req *control.Request, err error) {
	cause := context.Cause(ctx)
	switch {
	case s.killed.Load() || errors.Is(cause, errKilled):
	case errors.Is(cause, errLeaseLost):
		log.Warn("export abandoned: its lease was lost", "err", err)
	case errors.Is(cause, errCancelRequested):
		if s.rec.record(ctx, log, "cancellation", func(ctx context.Context) error {
			return s.db.Cancelled(ctx, req.Lease, "cancelled by request while running on "+s.cfg.ID)
		}) {
			s.metrics.finished(resultCancelled, nil)
			log.Info("export cancelled")
		}
	case errors.Is(cause, errShutdown):
		if s.rec.record(ctx, log, "release", func(ctx context.Context) error {
			return s.db.Release(ctx, req.Lease, "released to the queue by "+s.cfg.ID+" at shutdown")
		}) {
			s.metrics.finished(resultReleased, nil)
			log.Info("export stopped by shutdown; request released to the queue")
		}
	default:
		retry := retryable(err)
		if errors.Is(err, export.ErrNotEmpty) {
			// Said for SQL users: the CLI's --overwrite means nothing to them.
			err = fmt.Errorf("%w; choose another output_path, or remove the files there (an export never replaces files it did not write)", err)
		}
		msg := oneLine(err)
		var state string
		if s.rec.record(ctx, log, "failure", func(ctx context.Context) error {
			var err error
			state, err = s.db.Fail(ctx, req.Lease, msg, retry)
			return err
		}) {
			s.metrics.finished(state, nil)
			log.Warn("export failed", "err", msg, "state", state)
		}
	}
}

// recorder writes the outcomes of exports and publications, which must not be lost to a
// passing connection failure. It is safe for concurrent use.
type recorder struct {
	lease  time.Duration
	killed *atomic.Bool
}

// record runs write, retrying across reconnections for up to a lease (after which another
// sidecar re-queues the request anyway), and not after ErrLeaseLost or a kill. It reports
// whether the write succeeded. ctx's cancellation does not stop it.
func (rc recorder) record(ctx context.Context, log interface {
	Warn(string, ...any)
}, what string, write func(ctx context.Context) error) bool {
	ctx = context.WithoutCancel(ctx)
	deadline := time.Now().Add(rc.lease)
	for {
		err := write(ctx)
		if err == nil {
			return true
		}
		if errors.Is(err, control.ErrLeaseLost) || time.Now().After(deadline) || rc.killed.Load() {
			log.Warn("could not record the export's "+what, "err", err)
			return false
		}
		time.Sleep(time.Second)
	}
}

// export stages the export of req as its requester, on a connection of the requester's own
// login (never the sidecar's: code the requester wrote may run in the export's sessions).
func (s *Sidecar) export(ctx context.Context, req *control.Request, progress *atomic.Pointer[outcome.Progress]) (*export.Staged, error) {
	if err := checkOutputDir(req.OutputDir); err != nil {
		return nil, err
	}
	opts, err := s.exportOptions(ctx, req, progress)
	if err != nil {
		return nil, err
	}
	opts.Columns = req.Columns
	opts.OutputDir = req.OutputDir
	opts.AsText, opts.Numeric, opts.Timestamp = req.Format.AsText, req.Format.Numeric, req.Format.Timestamp
	opts.WideNumeric, opts.Compat = req.Format.WideNumeric, req.Format.Compat
	s.out.apply(&opts)
	return export.Stage(ctx, opts)
}

// exportOptions are what every export of req takes from it and from this sidecar: the
// requester's own login (SET ROLE to the requester), the table, the parallelism and codec
// (the sidecar's defaults when the request names none), the row-group size, the limits, the
// progress report and the engine (the GPU, when there is one, decodes: auto mode, the CUDA
// library looked for where export's --gpu-lib default looks).
func (s *Sidecar) exportOptions(ctx context.Context, req *control.Request, progress *atomic.Pointer[outcome.Progress]) (export.Options, error) {
	if req.Relation == "" {
		return export.Options{}, fmt.Errorf("table %s no longer exists", req.TableName)
	}
	login, err := s.db.Login(ctx, req.Requester)
	if err != nil {
		return export.Options{}, err
	}
	parallel := req.Parallel
	if parallel == 0 {
		parallel = s.cfg.Parallel
	}
	if parallel > s.cfg.MaxParallel {
		return export.Options{}, fmt.Errorf("parallel %d is above this sidecar's maximum of %d", parallel, s.cfg.MaxParallel)
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
		Parallel:       parallel,
		Tag:            req.Lease.StagingTag(),
		Compression:    compression,
		RowGroupSize:   req.Format.RowGroupSize,
		Role:           req.Requester,
		MaxOutputBytes: req.MaxOutputBytes,
		HugeRows:       s.huge,
		MinFreeBytes:   max(s.cfg.OutputReserve, 0),
		Progress:       func(p outcome.Progress) { progress.Store(&p) },
		Logger:         s.log.With("request", req.ID),
	}
	opts.Engine = device.Start(s.cfg.GPU, s.cfg.GPULib, opts.Logger)
	if s.hooks.onSnapshot != nil {
		opts.OnSnapshot = func(ctx context.Context, _, _ string) error { return s.hooks.onSnapshot(ctx, req) }
	}
	return opts, nil
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
