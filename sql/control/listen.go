package control

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Event is what a notification on the control tables' channel announces.
type Event int

// The events of Channel's payloads. Any role may NOTIFY the channel: an event is a hint to
// look at the control tables, which decide, never an order.
const (
	EventNone     Event = iota // a payload the sidecar does not know
	EventNew                   // "new <id>": a request may be waiting to be claimed
	EventCancel                // "cancel <id>": cancellation of request RequestID was asked
	EventSchedule              // "schedule": schedules changed
	EventDelete                // "delete <id>": the files of request RequestID are to be deleted
)

// Notification is one notification on Channel.
type Notification struct {
	Event     Event
	RequestID int64 // for EventCancel and EventDelete
}

// Listener is a session of its own LISTENing on the DB's Channel. It is not safe for
// concurrent use; close it when done.
type Listener struct {
	conn *pgx.Conn
}

// Listen opens a session with the settings the DB was opened with (not the control sessions'
// lock_timeout or search_path) within OpTimeout, and LISTENs on Channel. Notifications sent
// before it returns are not seen: the caller looks at the queue afterwards.
func (db *DB) Listen(ctx context.Context) (*Listener, error) {
	if db.cfg == nil {
		return nil, errors.New("listen: the DB was not opened with connection settings")
	}
	cctx, cancel := context.WithTimeout(ctx, OpTimeout)
	conn, err := pgx.ConnectConfig(cctx, db.cfg.Copy())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	channel := pgx.Identifier{db.Channel()}.Sanitize()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a connection we are done with
		return nil, fmt.Errorf("listen %s: %w", channel, err)
	}
	return &Listener{conn: conn}, nil
}

// Wait returns the next notification; an error means the session is lost (or ctx ended).
func (l *Listener) Wait(ctx context.Context) (Notification, error) {
	n, err := l.conn.WaitForNotification(ctx)
	if err != nil {
		return Notification{}, fmt.Errorf("wait for notification: %w", err)
	}
	kind, arg, _ := strings.Cut(n.Payload, " ")
	switch kind {
	case "new":
		return Notification{Event: EventNew}, nil
	case "cancel":
		if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
			return Notification{Event: EventCancel, RequestID: id}, nil
		}
	case "schedule":
		return Notification{Event: EventSchedule}, nil
	case "delete":
		if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
			return Notification{Event: EventDelete, RequestID: id}, nil
		}
	}
	return Notification{}, nil
}

// Close ends the session.
func (l *Listener) Close(ctx context.Context) {
	l.conn.Close(ctx) //nolint:errcheck // closing a connection we are done with
}
