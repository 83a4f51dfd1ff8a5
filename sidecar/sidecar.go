// Package sidecar serves the export requests queued in the control tables: it LISTENs for the
// triggers' notifications (and polls, so that nothing is missed across reconnects), claims
// requests with FOR UPDATE SKIP LOCKED (so several sidecars can serve one database), runs each
// export as its requester with heartbeats and progress, stops it on cancellation, writes the
// results back, re-queues requests whose sidecar died, and drains on shutdown. One of the
// sidecars serving a schema (the holder of the scheduling lease) also turns its schedules' due
// slots into requests.
//
// A Sidecar is a few small services sharing its control database (sql/control), its config and
// its running jobs, each with a Run method that Sidecar.Run starts and stops: the listener
// (LISTEN/NOTIFY, pokes the others), the claimer (claims requests and starts their exports
// within Concurrency, drains at shutdown), a lease keeper per running export (heartbeats,
// cancellation, lease loss), the scheduler (the scheduling lead and the schedules' slots) and
// the janitor (stale leases, stalled publications, dead attempts' files, expired and deleted
// exports' files).
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/snapshot"
	"github.com/pgparquet/pgparquet/sql/control"
)

// Sidecar serves the requests of one schema's control tables. Create it with New and call Run
// once.
type Sidecar struct {
	cfg     Config
	log     *slog.Logger
	db      *control.DB
	out     *output // the output root: every file is written beneath it
	lake    *lakehouses
	huge    *snapshot.HugeRows
	metrics *metrics
	rec     recorder
	jobs    *jobSet // running exports, started by the claimer

	listening atomic.Bool  // written by the listener
	leader    atomic.Bool  // written by the scheduler: this sidecar holds the scheduling lead
	lastPoll  atomic.Int64 // written by the claimer: unix nanoseconds of the last successful poll

	// killed makes the sidecar stop as if killed: no more heartbeats or writes (tests). Every
	// service reads it.
	killed atomic.Bool
	hooks  hooks
}

// hooks let tests hold an export at a known point. They are set before Run.
type hooks struct {
	// onSnapshot, when set, runs once the export's snapshot is taken; an error aborts it.
	onSnapshot func(ctx context.Context, req *control.Request) error
	// onPublish, when set, runs at the steps of a publication ("publishing": recorded, files
	// not yet moved; "committed": committed to its Iceberg table, not yet recorded published);
	// a test may kill the sidecar there.
	onPublish func(s *Sidecar, step string)
	// now, when set, is the scheduler's clock.
	now func() time.Time
	// onIdle, when set, runs instead of releaseMemory when the last running export ends.
	onIdle func()
}

// Causes with which a running export is stopped; the export's outcome is recorded by cause.
var (
	errCancelRequested = errors.New("cancelled by request")
	errLeaseLost       = errors.New("lease lost: the request was re-queued by another sidecar")
	errShutdown        = errors.New("sidecar shutting down")
	errKilled          = errors.New("sidecar killed")
)

// New checks cfg and returns a sidecar; it connects to nothing yet.
func New(cfg Config) (*Sidecar, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid sidecar config: %w", err)
	}
	out, err := openOutput(&cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid sidecar config: %w", err)
	}
	db, err := control.Open(cfg.ConnConfig, cfg.Schema, 2*cfg.Concurrency+4)
	if err != nil {
		out.close()
		return nil, err
	}
	s := &Sidecar{
		cfg:     cfg,
		log:     cfg.Logger.With("sidecar", cfg.ID),
		db:      db,
		out:     out,
		lake:    newLakehouses(cfg.ConnConfig, db, out),
		huge:    snapshot.NewHugeRows(cfg.HugeRowMemory),
		metrics: newMetrics(),
		jobs:    newJobSet(),
	}
	s.rec = recorder{lease: cfg.Lease, killed: &s.killed}
	return s, nil
}

// ID is the name this sidecar claims requests under.
func (s *Sidecar) ID() string { return s.cfg.ID }

// Run serves requests until ctx is cancelled, then drains: running exports get DrainTimeout to
// finish, after which they are stopped and their requests put back in the queue, so nothing is
// left running. It returns an error only when it cannot start (migrations fail); connection
// failures later are retried.
func (s *Sidecar) Run(ctx context.Context) error {
	defer s.db.Close()
	defer s.out.close()
	defer s.lake.close() //nolint:errcheck // closing connections at exit
	who, err := s.checkServer(ctx)
	if err != nil {
		return fmt.Errorf("sidecar start: %w", err)
	}
	if !s.cfg.SkipMigrate {
		if err := s.migrate(ctx); err != nil {
			return fmt.Errorf("sidecar start: %w", err)
		}
	}
	gpu := device.Start(s.cfg.GPU, s.cfg.GPULib, s.log).Err()
	if s.cfg.GPU == device.ModeOn && gpu != nil {
		return fmt.Errorf("sidecar start: --gpu on, but the GPU is not usable: %w (--gpu auto decodes on the CPU instead)", gpu)
	}
	idle := releaseMemory
	if s.hooks.onIdle != nil {
		idle = s.hooks.onIdle
	}
	claimer := &claimer{db: s.db, cfg: &s.cfg, log: s.log, jobs: s.jobs, metrics: s.metrics,
		killed: &s.killed, lastPoll: &s.lastPoll, serve: s.serve, wake: make(chan struct{}, 1), idle: idle}
	scheduler := &scheduler{ctl: s.db, cfg: &s.cfg, log: s.log, metrics: s.metrics, leader: &s.leader,
		killed: &s.killed, now: s.now, wake: make(chan struct{}, 1)}
	janitor := &janitor{db: s.db, cfg: &s.cfg, log: s.log, out: s.out, lake: s.lake, metrics: s.metrics, rec: s.rec,
		killed: &s.killed, claimer: claimer, wake: make(chan struct{}, 1)}
	listener := &listener{db: s.db, log: s.log, listening: &s.listening, jobs: s.jobs,
		claimer: claimer, scheduler: scheduler, janitor: janitor}

	// The listener outlives ctx until the drain is over: cancellations must still arrive.
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	var listenerDone sync.WaitGroup
	listenerDone.Go(func() { listener.Run(listenCtx) })
	defer func() {
		stopListening()
		listenerDone.Wait()
	}()
	// The scheduler stops with ctx (its lead passes to another sidecar at once), and so does
	// the janitor.
	var services sync.WaitGroup
	services.Go(func() { scheduler.Run(ctx) })
	services.Go(func() { janitor.Run(ctx) })
	defer services.Wait()

	s.register(ctx, who, gpu)
	defer s.db.SidecarStopped(context.WithoutCancel(ctx), s.cfg.ID) //nolint:errcheck // a sidecar not seen for a lease shows as not alive anyway
	s.log.Info("sidecar started", "schema", s.cfg.Schema, "output_root", s.cfg.OutputRoot,
		"concurrency", s.cfg.Concurrency, "lease", s.cfg.Lease.String(), "gpu", string(s.cfg.GPU))
	claimer.Run(ctx)
	return nil
}

// checkServer refuses a hot standby (the control tables need writes: point the sidecar at
// the primary) and says loudly when the sidecar's own role is a superuser.
func (s *Sidecar) checkServer(ctx context.Context) (control.Session, error) {
	who, err := s.db.CurrentUser(ctx)
	if err != nil {
		return who, fmt.Errorf("check the server: %w", err)
	}
	if who.InRecovery {
		return who, errors.New("the database is a hot standby (read-only): the sidecar writes its control tables, so point --dsn at the primary")
	}
	if who.Superuser {
		s.log.Error("THE SIDECAR'S ROLE IS A SUPERUSER: it should not be; run it as the least-privilege role of deploy/roles.sql", "role", who.Role)
	}
	return who, nil
}

// register records the sidecar in parquet_export_sidecar_log (parquet_export_sidecars shows
// it): who it runs as, its version and whether exports decode on a GPU (gpuErr: why not). A
// failure is logged: the sidecar serves without it.
func (s *Sidecar) register(ctx context.Context, who control.Session, gpuErr error) {
	gpu := "yes"
	if gpuErr != nil {
		gpu = "no: " + gpuErr.Error()
	}
	host, _ := os.Hostname()
	info := control.SidecarInfo{ID: s.cfg.ID, Role: who.Role, Superuser: who.Superuser, Version: export.Version,
		GPU: gpu, Host: host, PID: os.Getpid(), Lease: s.cfg.Lease, MaxParallel: s.cfg.MaxParallel}
	if err := s.db.SidecarStarted(ctx, info); err != nil {
		s.log.Warn("could not record the sidecar in parquet_export_sidecar_log", "err", err)
	}
}

// migrate applies the migrations, waiting (and saying for whom) while another session holds a
// lock they need; only ctx stops it.
func (s *Sidecar) migrate(ctx context.Context) error {
	backoff := time.Second
	for {
		applied, err := s.db.Migrate(ctx, s.cfg.AdminRole)
		if len(applied) > 0 {
			s.log.Info("applied migrations", "schema", s.cfg.Schema, "versions", applied)
		}
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			return err
		}
		waitingFor, _ := s.db.LockHolders(ctx)
		s.log.Warn("migrations wait for a lock held by another session; retrying", "held_by", waitingFor, "in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrations waited for a lock (held by %s) until stopped: %w", waitingFor, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// kill stops the sidecar as kill -9 would, as far as the database can tell: its exports stop
// and nothing more is written (no heartbeat, result or release). For tests.
func (s *Sidecar) kill() {
	s.killed.Store(true)
	s.jobs.cancelAll(errKilled)
}

// now is the scheduler's clock (a test may speed it up).
func (s *Sidecar) now() time.Time {
	if s.hooks.now != nil {
		return s.hooks.now()
	}
	return time.Now()
}
