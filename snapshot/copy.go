package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/semaphore"

	"github.com/pgparquet/pgparquet/copyout"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// Pool hands out fixed-size byte buffers, at most Count at a time: received COPY data waits
// for a free buffer, so memory stays bounded by Count × Size whatever the table's size (plus
// one-off buffers for single rows larger than Size). A Pool is safe for concurrent use.
type Pool struct {
	free    chan pooled
	size    int
	alloc   func(size int) []byte
	recycle func([]byte) bool
	huge    *HugeRows
	waited  atomic.Int64 // nanoseconds receivers waited for a free buffer, summed
}

// HugeRows bounds the memory of rows larger than a pool's buffers, across every pool that
// shares it (a sidecar's concurrent exports): a one-off buffer for such a row is allocated
// only once its size (at most the whole budget: a row larger than the budget waits until it
// has the budget alone) is reserved, and the reservation lasts until the buffer is released.
// Rows that do not fit wait, and their COPY streams with them. It is safe for concurrent use.
//
// A reservation of at least collectBytes ends with a garbage collection before the budget is
// given back: the row's receive, decoded and encoded copies are garbage by then, and without
// it the next huge row grows the heap by as much again before the collector runs (Go lets the
// heap reach twice its live size), so peak memory would be twice what the budget stands for.
type HugeRows struct {
	sem   *semaphore.Weighted
	bytes int64
}

// collectBytes is the reservation size from which its end triggers a garbage collection: a
// collection costs milliseconds, a row this large a hundred or more.
const collectBytes = 64 << 20

// release ends a reservation of n bytes.
func (h *HugeRows) release(n int64) {
	if n >= collectBytes {
		runtime.GC()
	}
	h.sem.Release(n)
}

// NewHugeRows returns a budget of bytes for oversized rows.
func NewHugeRows(bytes int64) *HugeRows {
	return &HugeRows{sem: semaphore.NewWeighted(bytes), bytes: bytes}
}

// SetHugeRows makes the pool's oversized rows share budget h. Call it before the pool is used.
func (p *Pool) SetHugeRows(h *HugeRows) { p.huge = h }

// SetRecycle makes the pool ask keep, as each buffer comes back, whether to use it again; a
// buffer it refuses is dropped and the next get allocates a new one (a GPU decoder that became
// ready swaps Go memory for pinned memory this way). Call it before the pool is used.
func (p *Pool) SetRecycle(keep func([]byte) bool) { p.recycle = keep }

// NewPool makes a pool of count buffers of size bytes each, allocated lazily by alloc (nil:
// the Go heap). A GPU decoder passes an allocator of pinned memory, which the GPU reads at full
// PCIe speed; such memory must outlive the pool.
func NewPool(count, size int, alloc func(size int) []byte) *Pool {
	if alloc == nil {
		alloc = func(size int) []byte { return make([]byte, 0, size) }
	}
	p := &Pool{free: make(chan pooled, count), size: size, alloc: alloc}
	for range count {
		p.free <- pooled{}
	}
	return p
}

// pooled is one pooled buffer and its row-start table, kept with it so that neither is
// reallocated per buffer.
type pooled struct {
	buf    []byte
	starts []uint32
}

// Size is the capacity of each pooled buffer.
func (p *Pool) Size() int { return p.size }

// Waited is how long receivers waited for a free buffer, summed over them: the time the
// pool's consumers held every buffer while COPY data may have been waiting.
func (p *Pool) Waited() time.Duration { return time.Duration(p.waited.Load()) }

func (p *Pool) get(ctx context.Context) (pooled, error) {
	var b pooled
	select {
	case b = <-p.free:
	default:
		start := time.Now()
		select {
		case b = <-p.free:
			p.waited.Add(int64(time.Since(start)))
		case <-ctx.Done():
			return pooled{}, context.Cause(ctx)
		}
	}
	if b.buf == nil {
		b.buf = p.alloc(p.size)
	}
	// At the pool's size, whatever the allocator gave: buffers end where a message does not
	// fit (receiver.land), the same in every export.
	return pooled{b.buf[:0:p.size], b.starts[:0]}, nil
}

func (p *Pool) put(b pooled) {
	if p.recycle != nil && !p.recycle(b.buf) {
		b.buf = nil
	}
	select {
	case p.free <- b:
	default:
		panic("snapshot: buffer returned to a full pool")
	}
}

// Buffer is a chunk of whole COPY BINARY tuples ready to decode. Its Data and RowStarts belong
// to the pool until Release, which the consumer must call exactly once when it no longer reads
// them.
type Buffer struct {
	pgcopy.Chunk
	// Task is the task whose stream this buffer came from.
	Task  Task
	pool  *Pool     // nil for a one-off buffer holding one oversized row
	huge  *HugeRows // the budget a one-off buffer reserved hugeN bytes of
	hugeN int64
}

// Rows is the number of tuples in the buffer, as delimited by the server's messages.
func (b *Buffer) Rows() int { return len(b.RowStarts) }

// Huge reports a one-off buffer holding a row larger than the pool's buffers, whose share of
// the huge-row budget lasts until Release.
func (b *Buffer) Huge() bool { return b.huge != nil }

// Release returns the buffer's memory to its pool.
func (b *Buffer) Release() {
	if b.pool != nil {
		b.pool.put(pooled{b.Data, b.RowStarts})
		b.pool = nil
	}
	if b.huge != nil {
		b.huge.release(b.hugeN)
		b.huge = nil
	}
	b.Data, b.RowStarts = nil, nil
}

// Progress holds counters that CopyTask adds to as data arrives, for progress reports; they
// may be read concurrently with atomic loads.
type Progress struct {
	Bytes atomic.Int64
	Rows  atomic.Int64
}

// CopyTask streams task with the worker's connection and its bound select list, filling
// buffers from the worker's pool and handing each full buffer to emit in stream order (emit
// owns it from then on and must Release it). It returns once the stream ended with its
// trailer, or with the first error: a server error, a malformed header, a missing trailer,
// ctx's cancellation, or emit's error.
//
// PostgreSQL sends one CopyData message per row, and the worker's copyout.Conn passes each
// message to one call: buffers are cut only between messages, and each message's offset is
// recorded as a row start.
func (w *Worker) CopyTask(ctx context.Context, task Task, emit func(*Buffer) error) error {
	r := &receiver{ctx: ctx, task: task, pool: w.opts.Pool, progress: w.opts.Progress, emit: emit}
	// PostgreSQL 14 and later report in_hot_standby. A standby ends sessions that hold replay
	// back (a conflict with recovery), and one ended in the middle of sending a row cannot say
	// so: the connection just closes.
	standby := w.conn.PgConn().ParameterStatus("in_hot_standby") == "on"
	_, err := w.conn.CopyToLanding(ctx, task.CopySQL(w.opts.SelectList), r.data, copyout.Landing{Land: r.land, Max: r.pool.Size()})
	if err == nil {
		err = r.finish()
	}
	if r.cur != nil {
		r.cur.Release()
	}
	if err != nil {
		if r.err != nil && !errors.Is(err, r.err) {
			err = errors.Join(r.err, err)
		}
		if connectionLost(err) {
			why := "backend terminated, server restarted or network failure"
			if standby {
				why = "on a hot standby most likely a conflict with recovery, which ends sessions that hold replay back; else the backend was terminated, the server restarted or the network failed"
			}
			err = fmt.Errorf("connection lost (%s): %w", why, err)
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22021" && w.conn.PgConn().ParameterStatus("server_encoding") == "SQL_ASCII" {
			// The server checks each text value as it converts it for the UTF8 client, and its
			// error names neither the column nor the row: the row is the one after the last
			// received, and the caller finds the column (Snapshot.InvalidUTF8Column).
			return &EncodingError{Task: task, Row: r.pos.rows, Err: fmt.Errorf("%s: %w", task, err)}
		}
		return fmt.Errorf("%s: %w", task, err)
	}
	return nil
}

// EncodingError is a text value of row Row (0-based, in stream order) of Task that a SQL_ASCII
// database, which stores bytes of any encoding, could not send as UTF-8. The export fills in
// Where (Snapshot.Locate) and Column (Snapshot.InvalidUTF8Column) when it can.
type EncodingError struct {
	Task   Task
	Row    int64
	Err    error
	Where  string // "ctid (12,5), primary key (id)=(42)"
	Column string
}

func (e *EncodingError) Error() string {
	what := "a text value"
	if e.Column != "" {
		what = "column " + strconv.Quote(e.Column)
	}
	if e.Where != "" {
		what += " of the row at " + e.Where
	}
	return fmt.Sprintf("%v: the database's encoding is SQL_ASCII, which stores bytes of any encoding, and %s is not UTF-8, which Parquet strings must be: export such columns as bytes through a view (convert_to(col, 'SQL_ASCII') AS col), or convert the data to UTF-8", e.Err, what)
}

func (e *EncodingError) Unwrap() error { return e.Err }

// connectionLost reports whether err means the connection broke rather than the server
// reporting an error: a backend killed while it sends COPY data cannot send its FATAL message
// (the message under way cannot be interrupted), so the client sees only the socket close.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &netErr) && !netErr.Timeout())
}

// receiver takes each CopyData message's payload, in its data method, from copyout.Conn's
// CopyToLanding, and appends it to a pooled buffer. The stream is read straight into the free
// end of that buffer (land), so a payload is moved only over the message headers before it,
// in memory just read; a message too large for a pooled buffer comes in memory of its own
// and is copied.
type receiver struct {
	ctx      context.Context
	task     Task
	pool     *Pool
	progress *Progress
	emit     func(*Buffer) error

	// pos is how far the stream has come: its bytes (header included) and rows.
	pos struct {
		bytes, rows int64
	}
	headerSeen bool
	trailer    bool
	cur        *Buffer
	err        error  // first error returned from data, kept in case the connection wraps it
	scratch    []byte // a message's start, kept by land while the buffer it was read into is handed on
	// Progress not yet added to the shared counters: adding per row from every worker would
	// make their cache line bounce between cores.
	unpubBytes, unpubRows int64
}

// data takes one CopyData payload; p is read only during the call.
func (r *receiver) data(p []byte) error {
	if err := r.write(p); err != nil {
		r.err = err
		return err
	}
	return nil
}

func (r *receiver) write(p []byte) error {
	n := len(p)
	if !r.headerSeen {
		h, err := pgcopy.ParseHeader(p)
		if err != nil {
			return fmt.Errorf("COPY stream header: %w", err)
		}
		r.headerSeen = true
		r.pos.bytes += int64(h)
		p = p[h:]
		if len(p) == 0 {
			r.count(n, 0)
			return nil
		}
	}
	if r.trailer {
		return fmt.Errorf("COPY stream: %d bytes after the trailer at byte %d", len(p), r.pos.bytes)
	}
	if pgcopy.IsTrailer(p) {
		r.trailer = true
		r.pos.bytes += int64(len(p))
		r.count(n, 0)
		return nil
	}
	if r.cur != nil && len(r.cur.Data)+len(p) > cap(r.cur.Data) {
		if err := r.flush(); err != nil {
			return err
		}
	}
	if r.cur == nil {
		if err := r.next(len(p)); err != nil {
			return err
		}
	}
	b := r.cur
	if len(b.RowStarts) == 0 { // where the buffer starts (land may take it before the header)
		b.StreamOffset, b.FirstRow = r.pos.bytes, r.pos.rows
	}
	b.RowStarts = append(b.RowStarts, uint32(len(b.Data)))
	b.Data = append(b.Data, p...) // p may lie in b.Data's free end, after where it goes: a move
	r.pos.bytes += int64(len(p))
	r.pos.rows++
	r.count(n, 1)
	return nil
}

func (r *receiver) count(bytes, rows int) {
	r.unpubBytes += int64(bytes)
	r.unpubRows += int64(rows)
}

// publish adds the progress counted since the last call to the shared counters; it runs once
// per buffer, often enough for progress reports.
func (r *receiver) publish() {
	if r.progress != nil {
		r.progress.Bytes.Add(r.unpubBytes)
		r.progress.Rows.Add(r.unpubRows)
	}
	r.unpubBytes, r.unpubRows = 0, 0
}

// next starts a new buffer able to hold a message of need bytes.
func (r *receiver) next(need int) error {
	b := &Buffer{Task: r.task}
	b.Source = r.task.String() // StreamOffset and FirstRow: at its first row (write)
	if need > r.pool.Size() {
		if h := r.pool.huge; h != nil {
			n := min(int64(need), h.bytes)
			if err := h.sem.Acquire(r.ctx, n); err != nil {
				return context.Cause(r.ctx)
			}
			b.huge, b.hugeN = h, n
		}
		b.Data = make([]byte, 0, need)
	} else {
		pb, err := r.pool.get(r.ctx)
		if err != nil {
			return err
		}
		b.Data, b.RowStarts, b.pool = pb.buf, pb.starts, r.pool
	}
	r.cur = b
	return nil
}

// flush hands the current buffer to emit; one without rows (taken by land for a stream that
// had none left) goes back to its pool.
func (r *receiver) flush() error {
	b := r.cur
	r.cur = nil
	r.publish()
	if len(b.RowStarts) == 0 {
		b.Release()
		return nil
	}
	return r.emit(b)
}

// land implements copyout.Landing: the free end of the current pooled buffer, where the next
// payloads are appended, when it holds need bytes (the message whose start partial is, or its
// header); else a new buffer, the current one handed on (emit) once partial has been set aside.
//
// So a buffer ends before the first message that does not fit in it whole, wherever the
// socket's reads happen to end: the same stream is cut into the same buffers, hence the same
// decoded batches and row groups, in every export of it (at one connection, the GPU writer's
// row groups hold the CPU path's row counts). Near a buffer's end a read may be short (the room
// left): one more read per buffer, at most a message's size.
func (r *receiver) land(partial []byte, need int) ([]byte, error) {
	if b := r.cur; b != nil && b.pool != nil {
		if room := b.Data[len(b.Data):cap(b.Data)]; len(room) >= max(need, len(partial)) {
			copy(room, partial)
			return room, nil
		}
	}
	r.scratch = append(r.scratch[:0], partial...)
	if r.cur != nil {
		if err := r.flush(); err != nil {
			return nil, err
		}
	}
	if err := r.next(0); err != nil {
		return nil, err
	}
	room := r.cur.Data[len(r.cur.Data):cap(r.cur.Data)]
	copy(room, r.scratch)
	return room, nil
}

func (r *receiver) finish() error {
	if !r.headerSeen {
		return errors.New("COPY stream ended without a header")
	}
	if !r.trailer {
		return fmt.Errorf("COPY stream ended without its trailer after %d bytes", r.pos.bytes)
	}
	if r.cur != nil {
		return r.flush()
	}
	r.publish()
	return nil
}
