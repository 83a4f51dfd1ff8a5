// Package sidecar serves the export requests queued in the control tables: it LISTENs for the
// triggers' notifications (and polls, so that nothing is missed across reconnects), claims
// requests with FOR UPDATE SKIP LOCKED (so several sidecars can serve one database), runs each
// export as its requester with heartbeats and progress, stops it on cancellation, writes the
// results back, re-queues requests whose sidecar died, and drains on shutdown. One of the
// sidecars serving a schema (the holder of the scheduling lease) also turns its schedules' due
// slots into requests.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/snapshot"
	"github.com/pgparquet/pgparquet/sql/control"
)

// Sidecar serves the requests of one schema's control tables. Create it with New and call Run
// once.
type Sidecar struct {
	cfg     Config
	log     *slog.Logger
	q       *control.Queries
	ctl     *ctlPool
	root    *os.Root // the output root: every file is opened beneath it
	huge    *snapshot.HugeRows
	metrics *metrics

	wake         chan struct{} // a request may be waiting: claim now
	scheduleWake chan struct{} // schedules changed: look at them now

	mu   sync.Mutex
	jobs map[int64]*job // running exports by request id

	listening atomic.Bool
	leader    atomic.Bool  // this sidecar holds the scheduling lock
	lastPoll  atomic.Int64 // unix nanoseconds of the last successful poll

	// killed makes the sidecar stop as if killed: no more heartbeats or writes (tests).
	killed atomic.Bool
	hooks  hooks
}

// hooks let tests hold an export at a known point.
type hooks struct {
	// onSnapshot, when set, runs once the export's snapshot is taken; an error aborts it.
	onSnapshot func(ctx context.Context, req *control.Request) error
	// now, when set, is the scheduler's clock.
	now func() time.Time
}

// job is one running export.
type job struct {
	req    *control.Request
	cancel context.CancelCauseFunc
	look   chan struct{} // a notification named the request: its heartbeat looks at it now
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
	root, err := os.OpenRoot(cfg.OutputRoot)
	if err != nil {
		return nil, fmt.Errorf("invalid sidecar config: output root: %w", err)
	}
	ctl, err := newControl(cfg.ConnConfig, 2*cfg.Concurrency+4)
	if err != nil {
		root.Close()
		return nil, err
	}
	return &Sidecar{
		cfg:          cfg,
		log:          cfg.Logger.With("sidecar", cfg.ID),
		q:            control.New(cfg.Schema),
		ctl:          ctl,
		root:         root,
		huge:         snapshot.NewHugeRows(cfg.HugeRowMemory),
		metrics:      newMetrics(),
		wake:         make(chan struct{}, 1),
		scheduleWake: make(chan struct{}, 1),
		jobs:         map[int64]*job{},
	}, nil
}

// ID is the name this sidecar claims requests under.
func (s *Sidecar) ID() string { return s.cfg.ID }

// Run serves requests until ctx is cancelled, then drains: running exports get DrainTimeout to
// finish, after which they are stopped and their requests put back in the queue, so nothing is
// left running. It returns an error only when it cannot start (migrations fail); connection
// failures later are retried.
func (s *Sidecar) Run(ctx context.Context) error {
	defer s.ctl.close()
	defer s.root.Close()
	if err := s.checkServer(ctx); err != nil {
		return fmt.Errorf("sidecar start: %w", err)
	}
	if !s.cfg.SkipMigrate {
		if err := s.migrate(ctx); err != nil {
			return fmt.Errorf("sidecar start: %w", err)
		}
	}
	// The listener outlives ctx until the drain is over: cancellations must still arrive.
	listenCtx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	var listenerDone sync.WaitGroup
	listenerDone.Go(func() { s.listen(listenCtx) })
	defer func() {
		stopListening()
		listenerDone.Wait()
	}()

	// The scheduler stops with ctx: its lead passes to another sidecar at once.
	var schedulerDone sync.WaitGroup
	schedulerDone.Go(func() { s.schedule(ctx) })
	defer schedulerDone.Wait()

	var jobs sync.WaitGroup
	jobBase, stopJobs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopJobs(nil)
	s.log.Info("sidecar started", "schema", s.cfg.Schema, "output_root", s.cfg.OutputRoot,
		"concurrency", s.cfg.Concurrency, "lease", s.cfg.Lease.String())
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.drain(&jobs, stopJobs)
			return nil
		case <-timer.C:
			s.requeueStale(ctx)
			s.janitor(ctx)
		case <-s.wake:
		}
		s.claim(ctx, jobBase, &jobs)
		timer.Reset(s.cfg.PollInterval)
	}
}

// poke wakes the claim loop without blocking.
func (s *Sidecar) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// running is the number of exports in flight.
func (s *Sidecar) running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// claim takes requests while this sidecar has room.
func (s *Sidecar) claim(ctx context.Context, jobBase context.Context, jobs *sync.WaitGroup) {
	for s.running() < s.cfg.Concurrency && ctx.Err() == nil && !s.killed.Load() {
		var req *control.Request
		// Not ctx: a claim cut off after its commit would leave the request running unseen
		// until its lease lapses.
		err := s.ctl.do(context.WithoutCancel(ctx), func(ctx context.Context, conn *pgx.Conn) error {
			var err error
			req, err = s.q.Claim(ctx, conn, s.cfg.ID)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("claim failed; will retry", "err", err)
			}
			return
		}
		s.lastPoll.Store(time.Now().UnixNano())
		if req == nil {
			return
		}
		jctx, cancel := context.WithCancelCause(jobBase)
		j := &job{req: req, cancel: cancel, look: make(chan struct{}, 1)}
		s.mu.Lock()
		s.jobs[req.ID] = j
		s.mu.Unlock()
		s.metrics.running.Add(1)
		jobs.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.jobs, req.ID)
				s.mu.Unlock()
				s.metrics.running.Add(-1)
				cancel(nil)
				s.poke()
			}()
			s.serve(jctx, j)
		})
	}
}

// requeueStale puts back the requests of sidecars that stopped heartbeating.
func (s *Sidecar) requeueStale(ctx context.Context) {
	if s.killed.Load() {
		return
	}
	var stale []control.Stale
	err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		stale, err = s.q.RequeueStale(ctx, conn, s.cfg.Lease)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("requeue of stale requests failed; will retry", "err", err)
		}
		return
	}
	for _, st := range stale {
		s.log.Warn("request's lease lapsed", "request", st.ID, "dead_sidecar", st.Sidecar, "attempt", st.Attempt, "state", st.State)
		s.metrics.stale.Add(1)
	}
}

// cancelJob stops the export of request id with cause, if this sidecar runs it.
func (s *Sidecar) cancelJob(id int64, cause error) {
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if j != nil {
		j.cancel(cause)
	}
}

// lookAt makes the heartbeat of request id, if this sidecar runs it, look at it now.
func (s *Sidecar) lookAt(id int64) {
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if j != nil {
		select {
		case j.look <- struct{}{}:
		default:
		}
	}
}

// checkServer refuses a hot standby (the control tables need writes: point the sidecar at
// the primary) and says loudly when the sidecar's own role is a superuser.
func (s *Sidecar) checkServer(ctx context.Context) error {
	var inRecovery, super bool
	var role string
	err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_catalog.pg_is_in_recovery(), r.rolsuper, r.rolname::text
			FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`).Scan(&inRecovery, &super, &role)
	})
	if err != nil {
		return fmt.Errorf("check the server: %w", err)
	}
	if inRecovery {
		return errors.New("the database is a hot standby (read-only): the sidecar writes its control tables, so point --dsn at the primary")
	}
	if super {
		s.log.Error("THE SIDECAR'S ROLE IS A SUPERUSER: it should not be; run it as the least-privilege role of deploy/roles.sql", "role", role)
	}
	return nil
}

// migrate applies the migrations, waiting (and saying for whom) while another session holds a
// lock they need; only ctx stops it.
func (s *Sidecar) migrate(ctx context.Context) error {
	backoff := time.Second
	for {
		var waitingFor string
		err := s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
			applied, err := control.Migrate(ctx, conn, control.MigrateOptions{Schema: s.cfg.Schema, AdminRole: s.cfg.AdminRole})
			if len(applied) > 0 {
				s.log.Info("applied migrations", "schema", s.cfg.Schema, "versions", applied)
			}
			return err
		})
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55P03" {
			return err
		}
		_ = s.ctl.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
			waitingFor, _ = control.LockHolders(ctx, conn)
			return nil
		})
		s.log.Warn("migrations wait for a lock held by another session; retrying", "held_by", waitingFor, "in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrations waited for a lock (held by %s) until stopped: %w", waitingFor, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// drain waits up to DrainTimeout for running exports, then stops the rest (their requests go
// back to the queue) and waits for them.
func (s *Sidecar) drain(jobs *sync.WaitGroup, stopJobs context.CancelCauseFunc) {
	if s.killed.Load() {
		stopJobs(errKilled)
		jobs.Wait()
		return
	}
	n := s.running()
	s.log.Info("sidecar stopping", "running", n, "drain_timeout", s.cfg.DrainTimeout.String())
	done := make(chan struct{})
	go func() {
		jobs.Wait()
		close(done)
	}()
	if s.cfg.DrainTimeout > 0 && n > 0 {
		select {
		case <-done:
		case <-time.After(s.cfg.DrainTimeout):
		}
	}
	stopJobs(errShutdown)
	<-done
	s.log.Info("sidecar stopped")
}

// kill stops the sidecar as kill -9 would, as far as the database can tell: its exports stop
// and nothing more is written (no heartbeat, result or release). For tests.
func (s *Sidecar) kill() {
	s.killed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		j.cancel(errKilled)
	}
}

// listen keeps a connection LISTENing on the control tables' channel, reconnecting with
// backoff, and polls the queue after every (re)connection, since notifications sent while it
// was away are lost.
func (s *Sidecar) listen(ctx context.Context) {
	channel := pgx.Identifier{s.q.Channel()}.Sanitize()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, channel)
		s.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("listener disconnected; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
		if err == nil {
			backoff = 100 * time.Millisecond
		}
	}
}

func (s *Sidecar) listenOnce(ctx context.Context, channel string) error {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	conn, err := pgx.ConnectConfig(cctx, s.cfg.ConnConfig.Copy())
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a connection we are done with
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return fmt.Errorf("listen %s: %w", channel, err)
	}
	s.listening.Store(true)
	s.log.Info("listening", "channel", s.q.Channel())
	s.poke()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("wait for notification: %w", err)
		}
		kind, arg, _ := strings.Cut(n.Payload, " ")
		switch kind {
		case "new":
			s.poke()
		case "cancel":
			// Any role may NOTIFY this channel: a notification only makes the job's heartbeat
			// read its request now, and the control tables decide.
			if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
				s.lookAt(id)
			}
		case "schedule":
			s.pokeScheduler()
		}
	}
}
