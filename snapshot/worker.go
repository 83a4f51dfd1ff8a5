package snapshot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// closeTimeout bounds how long closing a connection may wait for the server.
const closeTimeout = 5 * time.Second

// snapshotIDPattern is the form of pg_export_snapshot's result; checking it keeps the ID safe
// to splice into SET TRANSACTION SNAPSHOT, which takes no parameters.
var snapshotIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$`)

// Worker is one connection inside a transaction that imported the exported snapshot. A
// Worker runs one COPY at a time and is not safe for concurrent use.
type Worker struct {
	// Index numbers the worker from 0, for logs and file names.
	Index int
	conn  *pgx.Conn
}

// WorkerOptions tunes how workers open their transaction.
type WorkerOptions struct {
	// Role, when set, is assumed with SET LOCAL ROLE after importing the snapshot, so that
	// privileges and row-level security apply as if that role ran the COPY.
	Role string
}

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
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return nil, errors.Join(fmt.Errorf("worker %d: %s: %w", i, s, err), closeConn(conn))
		}
	}
	return &Worker{Index: i, conn: conn}, nil
}

// PID is the worker's server process ID (pg_backend_pid), for logs and for tests that
// terminate a worker.
func (w *Worker) PID() uint32 { return w.conn.PgConn().PID() }

// Close ends the worker's transaction by closing its connection.
func (w *Worker) Close() error {
	if w.conn == nil {
		return nil
	}
	conn := w.conn
	w.conn = nil
	return closeConn(conn)
}

// CloseAll closes every worker and joins their errors.
func CloseAll(workers []*Worker) error {
	var err error
	for _, w := range workers {
		err = errors.Join(err, w.Close())
	}
	return err
}
