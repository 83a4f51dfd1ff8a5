package sidecar

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgparquet/pgparquet/sql/control"
)

// job is one running export.
type job struct {
	req    *control.Request
	cancel context.CancelCauseFunc
	look   chan struct{} // a notification named the request: its lease keeper looks at it now
}

// jobSet is the running exports by request id: the claimer adds and removes them, the
// listener and kill reach them. It is safe for concurrent use.
type jobSet struct {
	mu   sync.Mutex
	jobs map[int64]*job
}

func newJobSet() *jobSet { return &jobSet{jobs: map[int64]*job{}} }

func (js *jobSet) len() int {
	js.mu.Lock()
	defer js.mu.Unlock()
	return len(js.jobs)
}

func (js *jobSet) add(j *job) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.jobs[j.req.ID] = j
}

// remove forgets request id's export and returns how many remain.
func (js *jobSet) remove(id int64) int {
	js.mu.Lock()
	defer js.mu.Unlock()
	delete(js.jobs, id)
	return len(js.jobs)
}

// look makes the lease keeper of request id, if this sidecar runs it, look at it now.
func (js *jobSet) look(id int64) {
	js.mu.Lock()
	j := js.jobs[id]
	js.mu.Unlock()
	if j != nil {
		select {
		case j.look <- struct{}{}:
		default:
		}
	}
}

// releaseMemory gives the memory the exports freed back to the system once the sidecar is
// idle, rather than over minutes (Go's scavenger), so that an idle sidecar's RSS is its own,
// not its last export's peak: two collections (the buffers pooled in sync.Pools survive one)
// and then the free pages returned. On the 2-core VM a wide export (1M rows, P=4) left 249 MB
// of its 261 MB peak resident for minutes; after one collection 113 MB stayed.
func releaseMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// cancelAll stops every running export with cause.
func (js *jobSet) cancelAll(cause error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	for _, j := range js.jobs {
		j.cancel(cause)
	}
}

// claimer claims requests while fewer than Concurrency exports run, when poked and every
// PollInterval, and runs each with serve; when its Run's ctx ends it drains them. It alone
// adds to and removes from jobs.
type claimer struct {
	db       *control.DB
	cfg      *Config
	log      *slog.Logger
	jobs     *jobSet
	metrics  *metrics
	killed   *atomic.Bool
	lastPoll *atomic.Int64
	serve    func(ctx context.Context, j *job)
	wake     chan struct{} // a request may be waiting: claim now
	// idle runs when the last running export has ended (releaseMemory).
	idle func()
}

// poke makes the claimer claim now, without blocking.
func (c *claimer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run claims until ctx ends, then drains: running exports get DrainTimeout to finish, then are
// stopped (their requests go back to the queue); it returns when none runs.
func (c *claimer) Run(ctx context.Context) {
	var running sync.WaitGroup
	jobBase, stopJobs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopJobs(nil)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			c.drain(&running, stopJobs)
			return
		case <-timer.C:
		case <-c.wake:
		}
		c.claim(ctx, jobBase, &running)
		timer.Reset(c.cfg.PollInterval)
	}
}

// claim takes requests while this sidecar has room.
func (c *claimer) claim(ctx context.Context, jobBase context.Context, running *sync.WaitGroup) {
	for c.jobs.len() < c.cfg.Concurrency && ctx.Err() == nil && !c.killed.Load() {
		// Not ctx: a claim cut off after its commit would leave the request running unseen
		// until its lease lapses.
		req, err := c.db.Claim(context.WithoutCancel(ctx), c.cfg.ID)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("claim failed; will retry", "err", err)
			}
			return
		}
		c.lastPoll.Store(time.Now().UnixNano())
		if req == nil {
			return
		}
		jctx, cancel := context.WithCancelCause(jobBase)
		j := &job{req: req, cancel: cancel, look: make(chan struct{}, 1)}
		c.jobs.add(j)
		c.metrics.running.Add(1)
		running.Go(func() {
			defer func() {
				left := c.jobs.remove(req.ID)
				c.metrics.running.Add(-1)
				cancel(nil)
				c.poke()
				if left == 0 {
					c.idle()
				}
			}()
			c.serve(jctx, j)
		})
	}
}

// drain waits up to DrainTimeout for running exports, then stops the rest (their requests go
// back to the queue) and waits for them.
func (c *claimer) drain(running *sync.WaitGroup, stopJobs context.CancelCauseFunc) {
	if c.killed.Load() {
		stopJobs(errKilled)
		running.Wait()
		return
	}
	n := c.jobs.len()
	c.log.Info("sidecar stopping", "running", n, "drain_timeout", c.cfg.DrainTimeout.String())
	done := make(chan struct{})
	go func() {
		running.Wait()
		close(done)
	}()
	if c.cfg.DrainTimeout > 0 && n > 0 {
		select {
		case <-done:
		case <-time.After(c.cfg.DrainTimeout):
		}
	}
	stopJobs(errShutdown)
	<-done
	c.log.Info("sidecar stopped")
}
