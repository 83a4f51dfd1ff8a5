package sidecar

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pgparquet/pgparquet/sql/control"
)

// listener keeps a session LISTENing on the control tables' channel and turns notifications
// into pokes: a new request wakes the claimer, a cancellation the lease keeper of that request,
// a schedule change the scheduler, a deletion the janitor. It alone writes listening.
type listener struct {
	db        *control.DB
	log       *slog.Logger
	listening *atomic.Bool
	jobs      *jobSet
	claimer   *claimer
	scheduler *scheduler
	janitor   *janitor
}

// Run listens until ctx ends, reconnecting with backoff, and pokes the claimer after every
// (re)connection, since notifications sent while it was away are lost.
func (l *listener) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listenOnce(ctx)
		l.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("listener disconnected; reconnecting", "err", err, "in", backoff.String())
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

func (l *listener) listenOnce(ctx context.Context) error {
	ln, err := l.db.Listen(ctx)
	if err != nil {
		return err
	}
	defer ln.Close(context.WithoutCancel(ctx))
	l.listening.Store(true)
	l.log.Info("listening", "channel", l.db.Channel())
	l.claimer.poke()
	for {
		n, err := ln.Wait(ctx)
		if err != nil {
			return err
		}
		switch n.Event {
		case control.EventNew:
			l.claimer.poke()
		case control.EventCancel:
			// A notification only makes the job's lease keeper read its request now: the
			// control tables decide.
			l.jobs.look(n.RequestID)
		case control.EventSchedule:
			l.scheduler.poke()
		case control.EventDelete:
			l.janitor.poke()
		}
	}
}
