package export_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/snapshot"
)

// ddlRows is the size of the table the DDL tests export: large enough for several tasks and
// workers.
const ddlRows = 300_000

// TestDDLDuringExportWaits runs, from another session and in its own transaction, the DDL a
// migration would run on the exported table (drop a column and add it back with another type,
// TRUNCATE, ALTER COLUMN TYPE), at the two moments it can meet an export:
//
//   - started once the snapshot is taken and before the workers open: the DDL waits for the
//     coordinator's ACCESS SHARE lock, the workers cannot lock the table behind it, and the
//     export stops at once (snapshot.ErrDDLWaiting) with nothing left, so the DDL goes ahead;
//   - holding ACCESS EXCLUSIVE before the export starts and committing a little later: the
//     export waits for it and then reads the new schema and rows consistently (the new double
//     column's 1.5 in every row, the numeric column's exact values, or no row after
//     TRUNCATE), never int64 bits of a double nor an empty file when its snapshot had rows.
func TestDDLDuringExportWaits(t *testing.T) {
	oldSum := new(big.Int).SetInt64(ddlRows * (ddlRows + 1) / 2)
	const (
		dropAdd  = `ALTER TABLE t DROP COLUMN v; ALTER TABLE t ADD COLUMN v double precision DEFAULT 1.5`
		truncate = `TRUNCATE t`
		retype   = `ALTER TABLE t ALTER COLUMN v TYPE numeric`
	)
	tests := []struct {
		name string
		ddl  string
		// first: the DDL session locks t and runs the DDL before the export starts, and
		// commits once the export waits; otherwise it starts once the snapshot is taken.
		first bool
		want  vColumn
	}{
		{name: "drop and add column during export", ddl: dropAdd},
		{name: "truncate during export", ddl: truncate},
		{name: "alter type during export", ddl: retype},
		{name: "drop and add column committed first", ddl: dropAdd, first: true, want: vColumn{rows: ddlRows, typ: arrow.FLOAT64, allFloat: 1.5}},
		{name: "truncate committed first", ddl: truncate, first: true, want: vColumn{rows: 0}},
		{name: "alter type committed first", ddl: retype, first: true, want: vColumn{rows: ddlRows, typ: arrow.STRING, sum: oldSum}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			t.Cleanup(cancel)
			dsn := shared.NewDB(t)
			su := pgtest.Connect(t, dsn)
			pgtest.Exec(t, su, `CREATE TABLE t (id bigint, v bigint)`)
			pgtest.Exec(t, su, `INSERT INTO t SELECT g, g FROM generate_series(1, $1::int) g`, ddlRows)
			pgtest.Exec(t, su, `VACUUM ANALYZE t`)
			mon := pgtest.Connect(t, dsn)
			ddl := startDDLSession(ctx, cancel, t, dsn)

			opts := export.Options{ConnConfig: config(t, dsn), Table: "t", OutputDir: t.TempDir(), Parallel: 4, Chunks: 16}
			var last outcome.Progress
			var ddlDoneAtLast bool
			opts.Progress = func(p outcome.Progress) { last, ddlDoneAtLast = p, ddl.finished.Load() }
			var waitedAt time.Time
			if tc.first {
				if err := ddl.begin(tc.ddl); err != nil {
					t.Fatal(err)
				}
				// Commit once the coordinator waits for the lock (and a little more).
				go func() {
					if err := waitForLock(ctx, mon, "application_name = 'pgparquet'", 20*time.Second); err != nil {
						ddl.fail(fmt.Errorf("the export never waited for the DDL's lock: %w", err))
						return
					}
					time.Sleep(300 * time.Millisecond)
					ddl.commit()
				}()
			} else {
				opts.OnSnapshot = func(ctx context.Context, _, _ string) error {
					ddl.run(tc.ddl)
					if err := waitForLock(ctx, mon, fmt.Sprintf("pid = %d", ddl.pid), 10*time.Second); err != nil {
						return fmt.Errorf("the DDL session does not wait for the export: %w", err)
					}
					waitedAt = time.Now()
					return nil
				}
			}

			// A stalled export says who waits for whom before it is stopped.
			exportCtx, stopExport := context.WithTimeout(ctx, 20*time.Second)
			defer stopExport()
			stalled := make(chan string, 1)
			if !tc.first {
				go func() {
					select {
					case <-time.After(15 * time.Second):
						stalled <- lockWaits(ctx, mon)
					case <-exportCtx.Done():
						stalled <- ""
					}
				}()
			}
			res, err := export.Run(exportCtx, opts)
			stopExport()
			if !tc.first {
				// The DDL queued behind the coordinator's lock, and every later lock queues
				// behind it: the workers cannot lock the table, and the export stops at once
				// so that the DDL goes ahead, leaving nothing behind.
				if !errors.Is(err, snapshot.ErrDDLWaiting) {
					t.Fatalf("export: %v, want %v; 15 s into the export: %s", err, snapshot.ErrDDLWaiting, <-stalled)
				}
				t.Logf("export stopped: %v", err)
				if err := ddl.wait(30 * time.Second); err != nil {
					t.Fatalf("DDL: %v", err)
				}
				if left := dirEntries(t, opts.OutputDir); len(left) > 0 {
					t.Errorf("left in the output dir: %v", left)
				}
				return
			}
			if err != nil {
				if !tc.first {
					err = fmt.Errorf("%w; 15 s into the export: %s", err, <-stalled)
				}
				t.Fatalf("export: %v", err)
			}
			ddlErr := ddl.wait(30 * time.Second)
			if ddlErr != nil {
				t.Fatalf("DDL: %v", ddlErr)
			}
			got := readV(t, opts.OutputDir)
			if res.Rows != got.rows {
				t.Errorf("result says %d rows, the files hold %d", res.Rows, got.rows)
			}
			if !got.equal(tc.want) {
				t.Errorf("exported %s, want %s", got, tc.want)
			}
			if !tc.first {
				if last.Tasks == 0 || last.TasksDone != last.Tasks || ddlDoneAtLast {
					t.Errorf("when every COPY was done (%d of %d tasks) the DDL had completed: %v; it must wait for the export", last.TasksDone, last.Tasks, ddlDoneAtLast)
				}
				t.Logf("the DDL waited from the snapshot until every COPY was done, and committed %s after it began waiting; exported %s",
					ddl.doneAt.Sub(waitedAt).Round(time.Millisecond), got)
			} else {
				t.Logf("the export waited for the DDL and read the new schema: %s", got)
			}
		})
	}
}

// ddlSession is a session of its own that runs the DDL in a transaction; it reports when
// the transaction ended.
type ddlSession struct {
	conn     *pgx.Conn
	pid      uint32
	ctx      context.Context
	started  bool // a transaction was begun: done will say how it ended
	waited   bool // wait returned
	finished atomic.Bool
	doneAt   time.Time
	done     chan error
	tx       pgx.Tx
}

// startDDLSession connects the DDL session. When the test ends, cancel stops what it still
// runs and the connection is closed.
func startDDLSession(ctx context.Context, cancel context.CancelFunc, t *testing.T, dsn string) *ddlSession {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	d := &ddlSession{conn: conn, pid: conn.PgConn().PID(), ctx: ctx, done: make(chan error, 1)}
	t.Cleanup(func() {
		cancel()
		if d.started && !d.waited {
			d.wait(10 * time.Second) //nolint:errcheck // the test already failed
		}
		conn.Close(context.Background()) //nolint:errcheck // best effort at the end of the test
	})
	return d
}

// run starts BEGIN; ddl; COMMIT in the background.
func (d *ddlSession) run(ddl string) {
	d.started = true
	go func() {
		err := pgx.BeginFunc(d.ctx, d.conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(d.ctx, ddl); err != nil {
				return fmt.Errorf("%s: %w", ddl, err)
			}
			return nil
		})
		d.end(err)
	}()
}

// begin opens the transaction, takes ACCESS EXCLUSIVE on t and runs ddl, leaving the
// transaction open for commit.
func (d *ddlSession) begin(ddl string) error {
	tx, err := d.conn.Begin(d.ctx)
	if err != nil {
		return fmt.Errorf("begin the DDL: %w", err)
	}
	d.tx = tx
	for _, stmt := range []string{`LOCK t IN ACCESS EXCLUSIVE MODE`, ddl} {
		if _, err := tx.Exec(d.ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	d.started = true
	return nil
}

// commit commits the transaction begin opened.
func (d *ddlSession) commit() {
	err := d.tx.Commit(d.ctx)
	if err != nil {
		err = fmt.Errorf("commit the DDL: %w", err)
	}
	d.end(err)
}

// fail ends the transaction begin opened without committing it.
func (d *ddlSession) fail(err error) {
	d.tx.Rollback(context.WithoutCancel(d.ctx)) //nolint:errcheck // err says what went wrong
	d.end(err)
}

func (d *ddlSession) end(err error) {
	d.doneAt = time.Now()
	d.finished.Store(true)
	d.done <- err
}

// wait returns the DDL's outcome, or an error once within passed.
func (d *ddlSession) wait(within time.Duration) error {
	d.waited = true
	select {
	case err := <-d.done:
		return err
	case <-time.After(within):
		return fmt.Errorf("the DDL did not complete within %s of the export", within)
	}
}

// waitForLock polls until a session matching where (a condition on pg_stat_activity) waits
// for a lock on t, and returns an error naming what it saw if none does within passed.
func waitForLock(ctx context.Context, mon *pgx.Conn, where string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var waiting bool
		var blockers []string
		err := mon.QueryRow(ctx, `SELECT a.wait_event_type IS NOT DISTINCT FROM 'Lock'
				AND EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.relation = 't'::regclass),
			coalesce((SELECT array_agg(b.pid || ' ' || b.application_name || ': ' || b.state) FROM pg_stat_activity b
				WHERE b.pid = ANY (pg_blocking_pids(a.pid))), '{}')
			FROM pg_stat_activity a WHERE a.datname = current_database() AND `+where).Scan(&waiting, &blockers)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("look at pg_locks: %w", err)
		case waiting:
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no session where %s waited for a lock on t within %s (blocked by %v)", where, within, blockers)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockWaits describes the sessions of the test's database that wait for a lock, and whom
// they wait for.
func lockWaits(ctx context.Context, mon *pgx.Conn) string {
	var s string
	err := mon.QueryRow(ctx, `SELECT coalesce(string_agg(pg_catalog.format('pid %s (%s: %s) waits for %s on %s behind pids %s',
			a.pid, a.application_name, left(a.query, 50), l.mode, l.relation::regclass, pg_blocking_pids(a.pid)), '; '), 'no session waits for a lock')
		FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
		WHERE a.datname = current_database()`).Scan(&s)
	if err != nil {
		return fmt.Sprintf("pg_locks unreadable: %v", err)
	}
	return s
}

// vColumn sums up what an export of t holds.
type vColumn struct {
	rows     int64
	typ      arrow.Type // v's Arrow type (meaningless without rows)
	sum      *big.Int   // int64 and numeric v: the sum of the values
	allFloat float64    // double v: the value of every row
	badFloat int64      // double v: rows of another value
}

func (c vColumn) equal(o vColumn) bool {
	if c.rows != o.rows {
		return false
	}
	if c.rows == 0 {
		return true
	}
	if c.typ != o.typ || c.badFloat != o.badFloat || c.allFloat != o.allFloat {
		return false
	}
	return (c.sum == nil) == (o.sum == nil) && (c.sum == nil || c.sum.Cmp(o.sum) == 0)
}

func (c vColumn) String() string {
	switch {
	case c.rows == 0:
		return "no row"
	case c.typ == arrow.FLOAT64:
		return fmt.Sprintf("%d rows, v double, %d rows not %g", c.rows, c.badFloat, c.allFloat)
	default:
		return fmt.Sprintf("%d rows, v %s summing to %s", c.rows, c.typ, c.sum)
	}
}

// readV reads column v of every Parquet file in dir with arrow-go's reader.
func readV(t *testing.T, dir string) vColumn {
	t.Helper()
	var out vColumn
	for _, p := range partFiles(t, dir) {
		_, fr := openParquet(t, p)
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		idx := tbl.Schema().FieldIndices("v")
		if len(idx) != 1 {
			tbl.Release()
			t.Fatalf("%s: no column v", p)
		}
		col := tbl.Column(idx[0])
		if out.rows > 0 && col.DataType().ID() != out.typ {
			t.Errorf("%s: v is %s, another file's v is %s", p, col.DataType(), out.typ)
		}
		if tbl.NumRows() > 0 {
			out.typ = col.DataType().ID()
		}
		out.rows += tbl.NumRows()
		for _, chunk := range col.Data().Chunks() {
			if err := out.add(chunk); err != nil {
				tbl.Release()
				t.Fatalf("%s: %v", p, err)
			}
		}
		tbl.Release()
	}
	return out
}

func (c *vColumn) add(chunk arrow.Array) error {
	if chunk.NullN() > 0 {
		return fmt.Errorf("v has %d nulls", chunk.NullN())
	}
	switch a := chunk.(type) {
	case *array.Int64:
		if c.sum == nil {
			c.sum = new(big.Int)
		}
		for _, v := range a.Int64Values() {
			c.sum.Add(c.sum, big.NewInt(v))
		}
	case *array.Float64:
		for _, v := range a.Float64Values() {
			switch {
			case c.allFloat == 0 && c.badFloat == 0:
				c.allFloat = v
			case v != c.allFloat:
				c.badFloat++
			}
		}
	case *array.String:
		if c.sum == nil {
			c.sum = new(big.Int)
		}
		for i := range a.Len() {
			v, ok := new(big.Int).SetString(a.Value(i), 10)
			if !ok {
				return fmt.Errorf("v %q is not an integer", a.Value(i))
			}
			c.sum.Add(c.sum, v)
		}
	default:
		return fmt.Errorf("v is %s", chunk.DataType())
	}
	return nil
}
