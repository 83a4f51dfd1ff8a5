package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/copyout"
)

// closeTimeout bounds how long closing a connection may wait for the server.
const closeTimeout = 5 * time.Second

// receiveBlock is how many bytes of a COPY response a worker reads from its socket at once
// (copyout.Conn): a block holds thousands of rows of a typical table, so the per-read cost
// vanishes, and 16 workers hold 16 MiB of blocks.
const receiveBlock = 1 << 20

// receiveLowWater is when the kernel wakes a worker's COPY read (copyout.LowWater): once 256
// KiB are queued rather than at each of the backend's 8 KiB sends, which took a reader that
// keeps up through some 25 thousand wake-ups and reads per GB; at most 5 ms after a read began
// when less comes (a response's end, a backend that pauses). copyout's BenchmarkReceive (TCP,
// 2-core VM, a reader that keeps up): 0.36 CPU-s per GB received against 1.71 without; in the
// H200's exports, whose readers are the slower side, the same on the GPU writer and 4-10% less
// on the CPU path (bench/README, session 18). $PGPARQUET_RECEIVE_LOW_WATER (KiB, 0: off)
// overrides the bytes, for measurements.
var receiveLowWater = copyout.LowWater{Bytes: 256 << 10, Wait: 5 * time.Millisecond}

func init() {
	if v := os.Getenv("PGPARQUET_RECEIVE_LOW_WATER"); v != "" {
		if kib, err := strconv.Atoi(v); err == nil && kib >= 0 && kib <= 64<<10 {
			receiveLowWater.Bytes = kib << 10
		}
	}
}

// snapshotIDPattern is the form of pg_export_snapshot's result; checking it keeps the ID safe
// to splice into SET TRANSACTION SNAPSHOT, which takes no parameters.
var snapshotIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$`)

// Worker is one connection inside a transaction that imported the exported snapshot. A
// Worker runs one COPY at a time and is not safe for concurrent use.
type Worker struct {
	// Index numbers the worker from 0, for logs and file names.
	Index int
	conn  *copyout.Conn // the COPYs read their responses themselves, in blocks
	opts  WorkerOptions
}

// WorkerOptions tunes how workers open their transaction and what their COPYs select and
// where they receive it.
type WorkerOptions struct {
	// Role, when set, is assumed with SET LOCAL ROLE after importing the snapshot, so that
	// privileges and row-level security apply as if that role ran the COPY.
	Role string
	// Lock, when set, is the relation the coordinator locked: each worker takes ACCESS SHARE
	// on it at once, without waiting (see ErrDDLWaiting).
	Lock string
	// SelectList is what every COPY of the worker selects (Task.CopySQL).
	SelectList string
	// Pool gives CopyTask its receive buffers; the workers of one export share it.
	Pool *Pool
	// Progress, when set, counts what every COPY of the worker received.
	Progress *Progress
}

// ErrDDLWaiting is wrapped by the error of a worker that could not take its lock at once: a
// schema change (ALTER, DROP, TRUNCATE) arrived after the coordinator's lock and waits for
// the export, and PostgreSQL queues every later lock behind it, so the workers would wait
// for the DDL, which waits for the coordinator, which waits for the workers: a cycle
// PostgreSQL cannot see. The export stops instead, letting the DDL go ahead.
var ErrDDLWaiting = errors.New("a schema change of the table is waiting for this export")

// OpenWorkers opens n worker connections and imports snapshot id into each. The coordinator
// transaction that exported id must still be open. On error every opened worker is closed.
func OpenWorkers(ctx context.Context, cfg *pgx.ConnConfig, id string, n int, opts WorkerOptions) ([]*Worker, error) {
	if !snapshotIDPattern.MatchString(id) {
		return nil, fmt.Errorf("open workers: malformed snapshot id %q", id)
	}
	workers := make([]*Worker, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			w, err := openWorker(ctx, cfg, id, i, opts)
			workers[i] = w
			errs <- err
		}()
	}
	var all error
	for range n {
		all = errors.Join(all, <-errs)
	}
	if all != nil {
		for _, w := range workers {
			if w != nil {
				all = errors.Join(all, w.Close())
			}
		}
		return nil, all
	}
	return workers, nil
}

func openWorker(ctx context.Context, cfg *pgx.ConnConfig, id string, i int, opts WorkerOptions) (*Worker, error) {
	conn, err := Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", i, err)
	}
	stmts := []string{
		// A worker idles in its transaction while its buffers are full: a server-wide
		// idle-in-transaction timeout must not end it.
		"SET idle_in_transaction_session_timeout = 0",
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		"SET TRANSACTION SNAPSHOT " + quoteLiteral(id),
	}
	if opts.Role != "" {
		stmts = append(stmts, "SET LOCAL ROLE "+pgx.Identifier{opts.Role}.Sanitize())
	}
	if opts.Lock != "" {
		stmts = append(stmts, "LOCK TABLE "+opts.Lock+" IN ACCESS SHARE MODE NOWAIT")
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "55P03":
				err = fmt.Errorf("%w (it queued behind the export's lock on %s): the export stops so that it can go ahead; run it again: %w", ErrDDLWaiting, opts.Lock, err)
			case errors.As(err, &pgErr) && pgErr.Code == "22023" && strings.Contains(pgErr.Message, "snapshot"):
				err = fmt.Errorf("the snapshot's exporting transaction ended before this worker imported it (on a hot standby, a conflict with recovery ends it); run the export again: %w", err)
			}
			return nil, errors.Join(fmt.Errorf("worker %d: %w", i, err), closeConn(conn))
		}
	}
	cc := copyout.New(conn.PgConn(), receiveBlock)
	cc.SetLowWater(receiveLowWater)
	return &Worker{Index: i, conn: cc, opts: opts}, nil
}

// PID is the worker's server process ID (pg_backend_pid), for logs and for tests that
// terminate a worker.
func (w *Worker) PID() uint32 { return w.conn.PID() }

// Close ends the worker's transaction by closing its connection.
func (w *Worker) Close() error {
	if w.conn == nil {
		return nil
	}
	conn := w.conn
	w.conn = nil
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return conn.Close(ctx)
}

// CloseAll closes every worker and joins their errors.
func CloseAll(workers []*Worker) error {
	var err error
	for _, w := range workers {
		err = errors.Join(err, w.Close())
	}
	return err
}
