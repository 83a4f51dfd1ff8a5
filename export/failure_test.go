package export_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/snapshot"
)

// TestExportFailuresLeaveNothing runs exports that must fail and checks each error says why in
// one line and that no file is left behind.
func TestExportFailuresLeaveNothing(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE secret AS SELECT g AS id FROM generate_series(1, 1000) g`)
	pgtest.Exec(t, conn, `CREATE TABLE partly (id int, hidden text)`)
	pgtest.Exec(t, conn, `CREATE TABLE far_future AS SELECT g AS id, CASE WHEN g = 77 THEN timestamp '294276-12-31 23:59:59' ELSE now()::timestamp END AS ts FROM generate_series(1, 100) g`)
	pgtest.Exec(t, conn, `DROP ROLE IF EXISTS nosy`)
	pgtest.Exec(t, conn, `CREATE ROLE nosy LOGIN PASSWORD 'pw'`)
	pgtest.Exec(t, conn, `GRANT SELECT (id) ON partly TO nosy`)
	nosy := config(t, shared.Cluster(t).DSNAs(config(t, dsn).Database, "nosy", "pw"))
	// sslmode prefer against a server without TLS: pgx tries TLS first, and its refusal must not
	// hide the real reason.
	wrongPassword := config(t, strings.Replace(shared.Cluster(t).DSNAs(config(t, dsn).Database, "nosy", "wrong"), "sslmode=disable", "sslmode=prefer", 1))

	aFile := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(aFile, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    export.Options
		dir     string
		wantIs  error
		wantMsg string
	}{
		{name: "unknown table", opts: export.Options{Table: "public.nope"}, wantIs: snapshot.ErrNoSuchRelation, wantMsg: `table "public.nope": no such table`},
		{name: "unknown schema", opts: export.Options{Table: "nope.t"}, wantIs: snapshot.ErrNoSuchRelation, wantMsg: "no such table"},
		{name: "injection-shaped name", opts: export.Options{Table: "secret; DROP TABLE secret"}, wantIs: snapshot.ErrNoSuchRelation, wantMsg: "no such table"},
		{name: "unknown column", opts: export.Options{Table: "secret", Columns: []string{"id", "nope"}}, wantMsg: `no column "nope"`},
		{name: "no select privilege", opts: export.Options{Table: "secret", ConnConfig: nosy}, wantIs: snapshot.ErrPermission, wantMsg: "role nosy may not SELECT from public.secret"},
		{name: "no column privilege", opts: export.Options{Table: "partly", ConnConfig: nosy}, wantIs: snapshot.ErrPermission, wantMsg: `may not SELECT column(s) "hidden" of public.partly`},
		{name: "output dir is under a file", opts: export.Options{Table: "secret"}, dir: filepath.Join(aFile, "out"), wantMsg: "not a directory"},
		{name: "output dir not empty", opts: export.Options{Table: "secret"}, dir: nonEmpty, wantMsg: "is not empty"},
		{name: "value Parquet cannot hold", opts: export.Options{Table: "far_future"}, wantMsg: `row 76, column "ts" (timestamp without time zone): timestamp 9223371331199000000 µs after 2000-01-01 is out of range`},
		{name: "bad compression", opts: export.Options{Table: "secret", Compression: "lzma"}, wantMsg: `"lzma" is not one of`},
		{name: "wrong password", opts: export.Options{Table: "secret", ConnConfig: wrongPassword},
			wantMsg: `as nosy: failed SASL auth: FATAL: password authentication failed for user "nosy" (SQLSTATE 28P01)`},
		{name: "gpu on without a GPU", opts: export.Options{Table: "secret", Engine: device.Start(device.ModeOn, "", nil)}, wantMsg: "--gpu on: no NVIDIA driver"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts.ConnConfig == nil {
				opts.ConnConfig = config(t, dsn)
			}
			opts.OutputDir = tc.dir
			if opts.OutputDir == "" {
				opts.OutputDir = t.TempDir()
			}
			before, _ := os.ReadDir(opts.OutputDir)
			_, err := export.Run(ctx, opts)
			if err == nil {
				t.Fatal("export succeeded")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tc.wantMsg)
			}
			after, _ := os.ReadDir(opts.OutputDir)
			if len(after) != len(before) {
				t.Errorf("output dir had %d entries, now %v", len(before), dirEntries(t, opts.OutputDir))
			}
		})
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM secret").Scan(&n); err != nil || n != 1000 {
		t.Fatalf("secret: %d rows, %v", n, err)
	}
}

// TestExportInterruptedLeavesNothing breaks exports in flight, by terminating a worker's
// backend and by cancelling the context, and checks that the error names the cause and that
// the partial files are gone.
func TestExportInterruptedLeavesNothing(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, pgtest.LineorderDDL("lineorder"))
	pgtest.Exec(t, conn, pgtest.LineorderFill("lineorder", 0, 599999))
	pgtest.Exec(t, conn, "VACUUM ANALYZE lineorder")

	// breakIt breaks the export; errNoCopy: not now (no COPY running yet), try again.
	errNoCopy := errors.New("no COPY running")
	tests := []struct {
		name    string
		breakIt func(ctx context.Context, cancel context.CancelCauseFunc) error
		wantMsg string
	}{
		{
			name: "worker backend terminated",
			breakIt: func(ctx context.Context, _ context.CancelCauseFunc) error {
				var n int
				err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
					WHERE application_name = 'pgparquet' AND query LIKE 'COPY%' AND state = 'active' LIMIT 1) w`).Scan(&n)
				switch {
				case err == nil && n == 0:
					err = errNoCopy
				case err == nil && n != 1:
					err = fmt.Errorf("terminated %d backends", n)
				}
				return err
			},
			// The backend's FATAL message arrives when it was between two CopyData messages;
			// otherwise the client sees only the socket close.
			wantMsg: "connection lost|terminating connection due to administrator command",
		},
		{
			name: "cancelled",
			breakIt: func(_ context.Context, cancel context.CancelCauseFunc) error {
				cancel(errors.New("operator said stop"))
				return nil
			},
			wantMsg: "operator said stop",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runCtx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			dir := t.TempDir()
			// Broken as soon as the export has files and (for a backend to terminate) a COPY
			// running: watched from beside it, not from its twice-a-second progress reports,
			// which an export faster than half a second never makes while it runs.
			var breakErr error
			sawFiles := false
			exported, watched := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(watched)
				for {
					select {
					case <-exported:
						return
					case <-time.After(time.Millisecond):
					}
					if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
						continue
					}
					sawFiles = true
					if breakErr = tc.breakIt(ctx, cancel); !errors.Is(breakErr, errNoCopy) {
						return
					}
				}
			}()
			_, err := export.Run(runCtx, export.Options{
				ConnConfig: config(t, dsn), Table: "lineorder", OutputDir: dir, Parallel: 2, Chunks: 2,
				BufferSize: 256 << 10, RowGroupSize: 10000,
			})
			close(exported)
			<-watched
			if errors.Is(breakErr, errNoCopy) {
				breakErr = nil // the export ended first: "export succeeded" says so
			}
			if breakErr != nil {
				t.Fatal(breakErr)
			}
			if err == nil {
				t.Fatal("export succeeded")
			}
			if !containsAny(err.Error(), tc.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line containing %q", err, tc.wantMsg)
			}
			if !sawFiles {
				t.Errorf("no partial files existed when the export was broken: the test proves nothing")
			}
			if left := dirEntries(t, dir); len(left) > 0 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
}

// containsAny reports whether s contains one of the |-separated alternatives.
func containsAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}
