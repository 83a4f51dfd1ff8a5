package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	_ "time/tzdata" // schedules' time zones must resolve in images without /usr/share/zoneinfo

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/robfig/cron/v3"

	"github.com/pgparquet/pgparquet/sql/control"
)

// parseCron parses a schedule's cron spec (five fields or a descriptor like @daily, as
// parquet_export_cron_check accepts them) to run in the IANA time zone tz.
func parseCron(spec, tz string) (*cron.SpecSchedule, error) {
	spec = strings.TrimSpace(spec)
	switch {
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return nil, fmt.Errorf("cron spec %q: no TZ= prefix here; set the schedule's timezone instead", spec)
	case strings.HasPrefix(spec, "@every"):
		return nil, fmt.Errorf("cron spec %q: @every is not supported (its times depend on when it is read)", spec)
	}
	if !strings.HasPrefix(spec, "@") {
		// robfig/cron drops empty list elements ("1,,2", ","); the SQL check refuses them.
		for _, field := range strings.Fields(spec) {
			if slices.Contains(strings.Split(field, ","), "") {
				return nil, fmt.Errorf("cron spec %q: empty element in field %q", spec, field)
			}
		}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	parsed, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron spec %q: %w", spec, err)
	}
	sched, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron spec %q: not a schedule of fixed times", spec)
	}
	sched.Location = loc
	return sched, nil
}

// latestSlot returns the latest time sched matches in (after, now], or the zero time when there
// is none. It looks back from now over growing spans, so the cost does not grow with how long
// ago after was (a sidecar down for a year must not walk a year of minutes).
func latestSlot(sched cron.Schedule, after, now time.Time) time.Time {
	first := sched.Next(after)
	if first.IsZero() || first.After(now) {
		return time.Time{}
	}
	for span := time.Minute; ; span *= 2 {
		from := now.Add(-span)
		if !from.After(after) {
			from = after
		}
		slot := sched.Next(from)
		if !slot.IsZero() && !slot.After(now) {
			for {
				n := sched.Next(slot)
				if n.IsZero() || n.After(now) {
					return slot
				}
				slot = n
			}
		}
	}
}

// scheduler keeps, on a session of its own, the scheduling lead of the schema (a row of
// parquet_export_leases that one sidecar at a time holds until it stops renewing it) and,
// while it leads, turns each schedule's due slot into a request. It alone writes leader.
type scheduler struct {
	ctl     *control.DB // the control pool: the lead is resigned on it
	cfg     *Config
	log     *slog.Logger
	metrics *metrics
	leader  *atomic.Bool
	killed  *atomic.Bool
	now     func() time.Time
	wake    chan struct{} // schedules changed: look at them now
}

// poke makes the scheduler look at the schedules now, without blocking.
func (sc *scheduler) poke() {
	select {
	case sc.wake <- struct{}{}:
	default:
	}
}

// tick is how often the scheduler tries for the lead or, leading, renews it and looks at the
// schedules. It is below a third of the lease, the lead's lifetime: a leader that stops
// renewing (hung, frozen, dead) loses the lead to another sidecar within a lease.
func (sc *scheduler) tick() time.Duration {
	return min(sc.cfg.PollInterval, sc.cfg.Lease/3)
}

// Run tries for (or renews) the lead every tick, and when poked, until ctx ends, and while it
// leads queues each schedule's due slot. At return it resigns the lead; a dead leader's lead
// expires.
func (sc *scheduler) Run(ctx context.Context) {
	session, err := control.OpenLeaderSession(sc.cfg.ConnConfig, sc.cfg.Schema, sc.cfg.ID, sc.cfg.Lease)
	if err != nil {
		sc.log.Error("scheduler cannot start", "err", err)
		return
	}
	defer session.Close()
	// drop gives up the lead and the session's connection.
	drop := func() {
		if sc.leader.Load() && !sc.killed.Load() {
			// On the control pool: the scheduler's session may have been closed by the
			// cancellation of a query in flight.
			sc.ctl.ResignLead(context.WithoutCancel(ctx), sc.cfg.ID) //nolint:errcheck // the lead expires anyway
		}
		session.Reset()
		if sc.leader.Swap(false) {
			sc.log.Info("no longer the scheduling leader")
		}
	}
	defer drop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-sc.wake:
		}
		wait := sc.tick()
		if !sc.killed.Load() {
			next, err := sc.scheduleOnce(ctx, session)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				sc.log.Warn("scheduling failed; will retry", "err", err)
				// Not an error of the server's: the session is lost (a failure, or a query cut
				// off by the tick's timeout).
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					drop()
				}
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(sc.now()), 10*time.Millisecond))
			}
		}
		timer.Reset(wait)
	}
}

// scheduleOnce tries for the lead and, leading, queues the due slots, all within OpTimeout.
// It returns the earliest next run of the schedules (zero when not leading or none).
func (sc *scheduler) scheduleOnce(ctx context.Context, session *control.DB) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, control.OpTimeout)
	defer cancel()
	// The lead is renewed every tick (a third of the lease at most); a leader that froze and
	// thawed finds it taken and stops. Two leaders at once would still queue each slot once.
	ok, err := session.TryLead(ctx, sc.cfg.ID, sc.cfg.Lease)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		if sc.leader.Swap(false) {
			sc.log.Info("no longer the scheduling leader")
		}
		return time.Time{}, nil
	}
	if !sc.leader.Swap(true) {
		sc.log.Info("leading the scheduling of exports")
	}
	schedules, err := session.EnabledSchedules(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var earliest time.Time
	var errs []error
	for _, s := range schedules {
		next, err := sc.scheduleOne(ctx, session, s)
		if err != nil {
			errs = append(errs, err)
		}
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
	}
	return earliest, errors.Join(errs...)
}

// scheduleOne brings one schedule up to date: a spec the sidecar cannot run is marked with the
// error; a first next run is computed from when the schedule (re)started; a due schedule gets
// one request, for its latest slot up to now (earlier missed slots are skipped), and its next
// run. It returns the schedule's next run.
func (sc *scheduler) scheduleOne(ctx context.Context, session *control.DB, s control.Schedule) (time.Time, error) {
	sched, err := parseCron(s.Cron, s.Timezone)
	if err != nil {
		if s.Error != err.Error() || s.NextRunAt != nil {
			sc.log.Warn("schedule cannot run", "schedule", s.Name, "err", err)
			return time.Time{}, session.SetScheduleError(ctx, s, err.Error())
		}
		return time.Time{}, nil
	}
	now := sc.now()
	next := s.NextRunAt
	if next == nil {
		base := s.SlotsFrom
		if s.LastSlot != nil && s.LastSlot.After(base) {
			base = *s.LastSlot
		}
		n := sched.Next(base)
		if n.IsZero() {
			return time.Time{}, session.SetScheduleError(ctx, s, fmt.Sprintf("cron spec %q matches no time in the next five years", s.Cron))
		}
		if n.After(now) {
			return n, session.SetScheduleNext(ctx, s, n)
		}
		next = &n
	}
	if next.After(now) {
		return *next, nil
	}
	slot := latestSlot(sched, next.Add(-time.Nanosecond), now)
	if slot.IsZero() { // cannot be: next itself is a slot up to now
		slot = *next
	}
	following := sched.Next(now)
	q, err := session.QueueSlot(ctx, s, slot, following)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case q.Error != "":
		sc.log.Warn("scheduled export not queued", "schedule", s.Name, "slot", slot, "err", q.Error)
	case q.Created:
		sc.metrics.scheduled.Add(1)
		sc.log.Info("scheduled export queued", "schedule", s.Name, "slot", slot, "request", q.RequestID,
			"missed_slots_skipped", slot.After(*next))
	}
	return following, nil
}
