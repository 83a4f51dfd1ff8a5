package sidecar

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // schedules' time zones must resolve in images without /usr/share/zoneinfo

	"github.com/jackc/pgx/v5"
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

// now is the scheduler's clock (a test may speed it up).
func (s *Sidecar) now() time.Time {
	if s.hooks.now != nil {
		return s.hooks.now()
	}
	return time.Now()
}

// pokeScheduler makes the scheduler look at the schedules now, without blocking.
func (s *Sidecar) pokeScheduler() {
	select {
	case s.scheduleWake <- struct{}{}:
	default:
	}
}

// schedulerTick is how often the scheduler tries for the lead or, leading, renews it and looks
// at the schedules. It is below a third of the lease, the lead's lifetime: a leader that stops
// renewing (hung, frozen, dead) loses the lead to another sidecar within a lease.
func (s *Sidecar) schedulerTick() time.Duration {
	return min(s.cfg.PollInterval, s.cfg.Lease/3)
}

// schedule runs until ctx ends: on a connection of its own it tries for (or renews) the
// scheduling lead, a row of parquet_export_leases, every tick, and while it leads queues each
// schedule's due slot. At return it resigns the lead; a dead leader's lead expires.
func (s *Sidecar) schedule(ctx context.Context) {
	var conn *pgx.Conn
	drop := func() {
		if s.leader.Load() && !s.killed.Load() {
			// On a control connection: the scheduler's own may have been closed by the
			// cancellation of a query in flight.
			s.ctl.do(context.WithoutCancel(ctx), func(ctx context.Context, c *pgx.Conn) error { //nolint:errcheck // the lead expires anyway
				return s.q.ResignLead(ctx, c, s.cfg.ID)
			})
		}
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			conn.Close(closeCtx) //nolint:errcheck // dropping the connection; the lock goes with it
			cancel()
			conn = nil
		}
		if s.leader.Swap(false) {
			s.log.Info("no longer the scheduling leader")
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
		case <-s.scheduleWake:
		}
		wait := s.schedulerTick()
		if !s.killed.Load() {
			next, err := s.scheduleOnce(ctx, &conn)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("scheduling failed; will retry", "err", err)
				if conn != nil && conn.IsClosed() {
					drop()
				}
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(s.now()), 10*time.Millisecond))
			}
		}
		timer.Reset(wait)
	}
}

// scheduleOnce connects if needed, tries for the lead and, leading, queues the due slots. It
// returns the earliest next run of the schedules (zero when not leading or none).
func (s *Sidecar) scheduleOnce(ctx context.Context, conn **pgx.Conn) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if *conn == nil {
		cfg := s.cfg.ConnConfig.Copy()
		if cfg.RuntimeParams == nil {
			cfg.RuntimeParams = map[string]string{}
		}
		cfg.RuntimeParams["idle_session_timeout"] = fmt.Sprint(s.cfg.Lease.Milliseconds())
		// A row another session locked must delay only that schedule, never the tick.
		cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(controlLockTimeout.Milliseconds())
		cfg.RuntimeParams["application_name"] = "pgparquet scheduler " + s.cfg.ID
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return time.Time{}, fmt.Errorf("connect the scheduler: %w", err)
		}
		*conn = c
	}
	// The lead is renewed every tick (a third of the lease at most); a leader that froze and
	// thawed finds it taken and stops. Two leaders at once would still queue each slot once.
	ok, err := s.q.TryLead(ctx, *conn, s.cfg.ID, s.cfg.Lease)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		if s.leader.Swap(false) {
			s.log.Info("no longer the scheduling leader")
		}
		return time.Time{}, nil
	}
	if !s.leader.Swap(true) {
		s.log.Info("leading the scheduling of exports")
	}
	schedules, err := s.q.EnabledSchedules(ctx, *conn)
	if err != nil {
		return time.Time{}, err
	}
	var earliest time.Time
	var errs []error
	for _, sc := range schedules {
		next, err := s.scheduleOne(ctx, *conn, sc)
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
func (s *Sidecar) scheduleOne(ctx context.Context, conn *pgx.Conn, sc control.Schedule) (time.Time, error) {
	sched, err := parseCron(sc.Cron, sc.Timezone)
	if err != nil {
		if sc.Error != err.Error() || sc.NextRunAt != nil {
			s.log.Warn("schedule cannot run", "schedule", sc.Name, "err", err)
			return time.Time{}, s.q.SetScheduleError(ctx, conn, sc, err.Error())
		}
		return time.Time{}, nil
	}
	now := s.now()
	next := sc.NextRunAt
	if next == nil {
		base := sc.SlotsFrom
		if sc.LastSlot != nil && sc.LastSlot.After(base) {
			base = *sc.LastSlot
		}
		n := sched.Next(base)
		if n.IsZero() {
			return time.Time{}, s.q.SetScheduleError(ctx, conn, sc, fmt.Sprintf("cron spec %q matches no time in the next five years", sc.Cron))
		}
		if n.After(now) {
			return n, s.q.SetScheduleNext(ctx, conn, sc, n)
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
	q, err := s.q.QueueSlot(ctx, conn, sc, slot, following)
	if err != nil {
		return time.Time{}, err
	}
	switch {
	case q.Error != "":
		s.log.Warn("scheduled export not queued", "schedule", sc.Name, "slot", slot, "err", q.Error)
	case q.Created:
		s.metrics.scheduled.Add(1)
		s.log.Info("scheduled export queued", "schedule", sc.Name, "slot", slot, "request", q.RequestID,
			"missed_slots_skipped", slot.After(*next))
	}
	return following, nil
}
