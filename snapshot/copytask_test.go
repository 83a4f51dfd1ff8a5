package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// TestCopyTaskErrorsAsBefore raises errors in the middle of a worker's COPY and checks that
// CopyTask returns the one-line error it returned when pgconn's CopyTo read the stream: the
// task, then the server's error as pgconn words it.
func TestCopyTaskErrorsAsBefore(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	pgtest.Exec(t, pgtest.Connect(t, dsn), `
CREATE FUNCTION slow(g int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN IF g = 2000 THEN PERFORM pg_sleep(10); END IF; RETURN g; END $$;
CREATE VIEW divides AS SELECT g, 1 / (g - 5000) AS q FROM generate_series(1, 100000) g;
CREATE VIEW sleeps AS SELECT slow(g) AS g, 0 AS q FROM generate_series(1, 3000) g`)
	tests := []struct {
		name, view string
		params     map[string]string
		want       string
	}{
		{"division by zero", "divides", nil, "task 0 (all of public.divides): ERROR: division by zero (SQLSTATE 22012)"},
		{"statement timeout", "sleeps", map[string]string{"statement_timeout": "300ms"}, "task 0 (all of public.sleeps): ERROR: canceling statement due to statement timeout (SQLSTATE 57014)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.params {
				cfg.RuntimeParams[k] = v
			}
			snap, err := Export(ctx, cfg, ExportOptions{Table: tt.view})
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Abort()
			task := Task{Source: Source{Name: "public." + tt.view}, Plain: true}
			workers, err := OpenWorkers(ctx, cfg, snap.ID, 1, WorkerOptions{SelectList: "g, q", Pool: NewPool(3, 64<<10, nil)})
			if err != nil {
				t.Fatal(err)
			}
			defer CloseAll(workers)
			rows := 0
			err = workers[0].CopyTask(ctx, task, func(b *Buffer) error { rows += b.Rows(); b.Release(); return nil })
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}

			// What pgconn's CopyTo returned, through the same wrapping.
			conn, err := Connect(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer closeConn(conn)
			_, oldErr := conn.PgConn().CopyTo(ctx, io.Discard, task.CopySQL("g, q"))
			if old := fmt.Errorf("%s: %w", task, oldErr).Error(); old != tt.want {
				t.Errorf("pgconn's CopyTo: %q, want %q", old, tt.want)
			}
		})
	}
}

// writes collects each Write call, which pgconn's CopyTo makes once per CopyData message.
type writes [][]byte

func (w *writes) Write(p []byte) (int, error) { *w = append(*w, bytes.Clone(p)); return len(p), nil }

// TestCopyTaskLandsRows streams rows of 0 bytes to 3 pooled buffers' worth through CopyTask,
// whose reads land in the pooled buffers, and checks every buffer against the messages
// pgconn's CopyTo receives for the same statement: the same rows in the same order, row starts
// at each row, stream offsets and first rows continuing, rows larger than a buffer alone in a
// buffer of their own. Twice on one worker: its connection serves again after a COPY.
func TestCopyTaskLandsRows(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	pgtest.Exec(t, pgtest.Connect(t, dsn), `
CREATE TABLE sizes AS SELECT g, repeat(md5(g::text), CASE WHEN g % 97 = 0 THEN 6000 + g % 5 ELSE (g * 7919) % 700 END) AS t
FROM generate_series(1, 20000) g`)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Export(ctx, cfg, ExportOptions{Table: "sizes"})
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Abort()
	task := Task{Source: Source{Name: "public.sizes"}, Plain: true}
	const size = 64 << 10
	workers, err := OpenWorkers(ctx, cfg, snap.ID, 1, WorkerOptions{SelectList: "g, t", Pool: NewPool(3, size, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(workers)

	conn, err := Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(conn)
	var msgs writes
	if _, err := conn.PgConn().CopyTo(ctx, &msgs, task.CopySQL("g, t")); err != nil {
		t.Fatal(err)
	}
	if len(msgs) < 3 || !bytes.Equal(msgs[0][:len(copyHeader)], copyHeader) {
		t.Fatalf("%d messages, the first not starting with the header", len(msgs))
	}
	// The rows: the first message holds the header and the first row, the last the trailer.
	want := append([][]byte{msgs[0][len(copyHeader):]}, msgs[1:len(msgs)-1]...)
	for round := range 2 {
		var rows int
		offset := int64(len(copyHeader))
		err := workers[0].CopyTask(ctx, task, func(b *Buffer) error {
			defer b.Release()
			if b.StreamOffset != offset || b.FirstRow != int64(rows) {
				return fmt.Errorf("buffer at row %d: stream offset %d, first row %d; want %d, %d", rows, b.StreamOffset, b.FirstRow, offset, rows)
			}
			if b.Rows() == 0 || (len(b.Data) > size && b.Rows() != 1) {
				return fmt.Errorf("buffer at row %d: %d rows in %d bytes", rows, b.Rows(), len(b.Data))
			}
			for i, start := range b.RowStarts {
				end := uint32(len(b.Data))
				if i+1 < len(b.RowStarts) {
					end = b.RowStarts[i+1]
				}
				if rows >= len(want) || !bytes.Equal(b.Data[start:end], want[rows]) {
					return fmt.Errorf("row %d (buffer row %d) differs from pgconn's: %d bytes %.40q, want %d %.40q", rows, i, end-start, b.Data[start:end], len(want[min(rows, len(want)-1)]), want[min(rows, len(want)-1)])
				}
				offset += int64(end - start)
				rows++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if rows != len(want) {
			t.Fatalf("round %d: %d rows, want %d", round, rows, len(want))
		}
	}
}
