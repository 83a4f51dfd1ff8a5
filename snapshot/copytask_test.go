package snapshot

import (
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
