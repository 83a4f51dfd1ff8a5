package copyout

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Conn runs COPY ... TO STDOUT statements on one PostgreSQL connection, reading their responses
// in blocks of a fixed size, or into memory the caller lends (CopyToLanding). It owns the
// connection and the block; it is not safe for concurrent use.
type Conn struct {
	pg        *pgconn.PgConn
	pid       uint32
	blockSize int
	block     []byte // allocated by the first CopyTo without a Landing, reused by the next ones
	broken    net.Conn
	lowWater  LowWater
}

// New takes over pg, which must be idle and is no longer used by the caller, for COPYs whose
// responses are read blockSize bytes at a time (1-4 MiB: one read syscall per block rather
// than per 8 KiB; the block is allocated once and kept until Close).
func New(pg *pgconn.PgConn, blockSize int) *Conn {
	return &Conn{pg: pg, pid: pg.PID(), blockSize: blockSize}
}

// SetLowWater sets how the next COPYs wake their reader (see LowWater); the zero LowWater,
// the default, wakes it at every segment.
func (c *Conn) SetLowWater(lw LowWater) { c.lowWater = lw }

// PgConn is the connection as pgconn sees it between COPYs, for ordinary statements and its
// parameter statuses. CopyTo replaces it: do not keep it across a CopyTo.
func (c *Conn) PgConn() *pgconn.PgConn { return c.pg }

// PID is the server process ID, known even after the connection was closed.
func (c *Conn) PID() uint32 { return c.pid }

// Close closes the connection; it is safe to call after a CopyTo closed it.
func (c *Conn) Close(ctx context.Context) error {
	if c.broken != nil {
		c.broken = nil
		return nil
	}
	if err := c.pg.Close(ctx); err != nil {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// CopyTo sends sql, a COPY ... TO STDOUT statement, and passes the payload of each CopyData
// message of the response to data, in order; the payload is valid only during the call. It
// returns once the server said ReadyForQuery: the command tag, or the server's error as a
// *pgconn.PgError; the connection is then usable again. NoticeResponse, NotificationResponse
// and ParameterStatus are handled as pgconn handles them (the config's OnNotice and
// OnNotification get the connection as it was before the COPY, since none exists during it).
//
// When the stream stops before ReadyForQuery (data's error, returned as it is; ctx's
// cancellation; a read error; a FATAL error or one the config's OnPgError refuses; a message
// that has no place in a COPY TO response) the connection is closed: it is in the middle of a
// response that nothing will read, as pgconn's CopyTo closes it in those cases.
func (c *Conn) CopyTo(ctx context.Context, sql string, data func([]byte) error) (pgconn.CommandTag, error) {
	return c.CopyToLanding(ctx, sql, data, Landing{})
}

// Landing lends CopyToLanding the memory it reads a response into, so that CopyData payloads
// arrive where their consumer keeps them: the consumer then moves each payload over the
// message headers before it (a copy within memory just read, still in the cache) instead of
// copying it from the connection's block into memory of its own (on the H200 host that copy
// was 11% of an export's CPU on the GPU path, lineorder 40M rows).
type Landing struct {
	// Land returns the memory the next read goes into: at least need bytes (at most Max), the
	// first len(partial) of which hold partial's bytes on return. partial is the start of a
	// message not read whole yet; it may lie in memory Land returned before, which Land then
	// moves it within or out of (copy semantics: the ranges may overlap). The memory is the
	// stream's until the next call of Land; the payloads passed to data alias it. An error ends
	// the COPY (the connection is closed) and is returned.
	Land func(partial []byte, need int) ([]byte, error)
	// Max is the largest message, its type byte and length included, that Land can hold; a
	// larger one is read into a buffer of its own. Without Land, the connection's block is used.
	Max int
}

// CopyToLanding is CopyTo reading the response into memory that l lends (see Landing); a zero
// Landing reads into the connection's block, as CopyTo does.
func (c *Conn) CopyToLanding(ctx context.Context, sql string, data func([]byte) error, l Landing) (pgconn.CommandTag, error) {
	if c.broken != nil || c.pg.IsClosed() {
		return pgconn.CommandTag{}, errors.New("COPY on a closed connection")
	}
	if err := ctx.Err(); err != nil {
		return pgconn.CommandTag{}, context.Cause(ctx)
	}
	if err := c.pg.SyncConn(ctx); err != nil {
		return pgconn.CommandTag{}, fmt.Errorf("prepare the connection for COPY: %w", err)
	}
	hc, err := c.pg.Hijack()
	if err != nil {
		return pgconn.CommandTag{}, fmt.Errorf("take over the connection for COPY: %w", err)
	}
	if c.block == nil && l.Land == nil {
		c.block = make([]byte, c.blockSize)
	}
	// The connection's deadline ends reads and writes when ctx is done, as pgconn's default
	// context handler does; fired tells that the deadline was set, so that it can be cleared.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		hc.Conn.SetDeadline(time.Unix(1, 0)) //nolint:errcheck // a failure means the connection is closed already
		close(fired)
	})
	r := response{hc: hc, old: c.pg, data: data, s: splitter{src: hc.Conn, land: l.Land, landMax: l.Max}}
	if l.Land == nil {
		r.s.block = c.block
	}
	lw := newLowWater(hc.Conn, c.lowWater)
	if lw != nil {
		r.s.src = lowWaterReader{conn: hc.Conn, w: lw}
	}
	tag, err := r.run(sql)
	if lw != nil {
		if lerr := lw.end(); lerr != nil && r.done {
			r.done = false
			err = errors.Join(err, lerr)
		}
	}
	if !stop() {
		<-fired
		if !r.done {
			err = fmt.Errorf("%w (%w)", context.Cause(ctx), err)
		} else if derr := hc.Conn.SetDeadline(time.Time{}); derr != nil {
			r.done = false
			err = errors.Join(err, fmt.Errorf("clear the connection's deadline: %w", derr))
		}
	}
	if !r.done || (err != nil && r.fatal) {
		c.broken = hc.Conn
		return tag, errors.Join(err, closeConn(hc.Conn))
	}
	pg, cerr := pgconn.Construct(hc)
	if cerr != nil {
		c.broken = hc.Conn
		return tag, errors.Join(err, fmt.Errorf("give the connection back to pgconn: %w", cerr), closeConn(hc.Conn))
	}
	c.pg = pg
	return tag, err
}

// closeConn closes a connection left in the middle of a response.
func closeConn(conn net.Conn) error {
	if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// response reads one COPY TO response.
type response struct {
	hc    *pgconn.HijackedConn
	old   *pgconn.PgConn // the hijacked connection, for the config's callbacks
	data  func([]byte) error
	s     splitter
	done  bool // ReadyForQuery came: the connection is between statements again
	fatal bool // the server or the config ended the connection with an error
}

// run sends sql and reads the response up to ReadyForQuery.
func (r *response) run(sql string) (pgconn.CommandTag, error) {
	q, err := (&pgproto3.Query{String: sql}).Encode(nil)
	if err != nil {
		return pgconn.CommandTag{}, fmt.Errorf("encode COPY query: %w", err)
	}
	if _, err := r.hc.Conn.Write(q); err != nil {
		return pgconn.CommandTag{}, fmt.Errorf("send COPY query: %w", err)
	}
	var (
		tag     pgconn.CommandTag
		pgErr   *pgconn.PgError
		copyOut bool
	)
	for {
		typ, body, err := r.s.next()
		if err != nil {
			if pgErr != nil {
				return tag, fmt.Errorf("%w (then the connection failed: %w)", pgErr, err)
			}
			return tag, fmt.Errorf("receive COPY response: %w", err)
		}
		switch typ {
		case 'd': // CopyData
			if !copyOut {
				return tag, errors.New("receive COPY response: CopyData before CopyOutResponse")
			}
			if err := r.data(body); err != nil {
				return tag, err
			}
		case 'H': // CopyOutResponse
			copyOut = true
		case 'c': // CopyDone
			copyOut = false
		case 'C': // CommandComplete
			if len(body) > 0 && body[len(body)-1] == 0 {
				body = body[:len(body)-1]
			}
			tag = pgconn.NewCommandTag(string(body))
		case 'E': // ErrorResponse
			var msg pgproto3.ErrorResponse
			if err := msg.Decode(body); err != nil {
				r.fatal = true
				return tag, fmt.Errorf("receive COPY response: %w", err)
			}
			pgErr = pgconn.ErrorResponseToPgError(&msg)
			if h := r.hc.Config.OnPgError; h != nil && !h(r.old, pgErr) {
				r.fatal = true
				return tag, pgErr
			}
			copyOut = false
		case 'N': // NoticeResponse
			var msg pgproto3.NoticeResponse
			if err := msg.Decode(body); err != nil {
				return tag, fmt.Errorf("receive COPY response: %w", err)
			}
			if h := r.hc.Config.OnNotice; h != nil {
				h(r.old, (*pgconn.Notice)(pgconn.ErrorResponseToPgError((*pgproto3.ErrorResponse)(&msg))))
			}
		case 'A': // NotificationResponse
			var msg pgproto3.NotificationResponse
			if err := msg.Decode(body); err != nil {
				return tag, fmt.Errorf("receive COPY response: %w", err)
			}
			if h := r.hc.Config.OnNotification; h != nil {
				h(r.old, &pgconn.Notification{PID: msg.PID, Channel: msg.Channel, Payload: msg.Payload})
			}
		case 'S': // ParameterStatus
			var msg pgproto3.ParameterStatus
			if err := msg.Decode(body); err != nil {
				return tag, fmt.Errorf("receive COPY response: %w", err)
			}
			r.hc.ParameterStatuses[msg.Name] = msg.Value
		case 'Z': // ReadyForQuery
			if len(body) != 1 {
				return tag, fmt.Errorf("receive COPY response: ReadyForQuery of %d bytes", len(body))
			}
			r.hc.TxStatus = body[0]
			r.done = true
			if pgErr != nil {
				return pgconn.CommandTag{}, pgErr
			}
			return tag, nil
		default:
			return tag, fmt.Errorf("receive COPY response: unexpected message %q: not a COPY TO STDOUT statement?", typ)
		}
	}
}
