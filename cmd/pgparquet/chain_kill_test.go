package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
)

// TestChainKill9 kills a real `pgparquet sidecar` process with SIGKILL while an incremental
// change run streams, and lets a second process take the request over once the lease lapses:
// the run is done once (attempt 2), its slot (still held by the dead process's walsender for
// a moment) is waited for rather than failed on, the chain materializes to the table, and
// ending the chain drops its slot. Both processes log in as deploy/roles.sql's pgparquet, as
// in production: the slot's walsender is pgparquet's, and the publication is made and
// dropped through pgparquet_auth.publish_table and unpublish.
func TestChainKill9(t *testing.T) {
	ctx := context.Background()
	bin := buildBinary(t)
	dsn, aliceDSN, su := sidecarDB(t, 10)
	root := t.TempDir()
	pgtest.Exec(t, su, `CREATE TABLE chain_t (id int PRIMARY KEY, v int, pad text)`)
	pgtest.Exec(t, su, `INSERT INTO chain_t SELECT g, g, md5(g::text) FROM generate_series(1, 300000) g`)
	pgtest.Exec(t, su, `GRANT SELECT ON chain_t TO alice`)
	alice := pgtest.Connect(t, aliceDSN)
	ask := func() int64 {
		var id int64
		if err := alice.QueryRow(ctx, `SELECT parquet_export('chain_t', '{"mode": "incremental"}')`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	p1 := startSidecar(t, bin, "p1", nil, "--dsn", dsn, "--output-root", root)
	first := ask()
	waitFor(t, su, first, "succeeded", 60*time.Second)
	pgtest.Exec(t, su, `UPDATE chain_t SET v = -v`)
	second := ask()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var state string
		var wal *int64
		if err := su.QueryRow(ctx, `SELECT state, progress_copy_bytes FROM parquet_export_requests WHERE id = $1`, second).Scan(&state, &wal); err != nil {
			t.Fatal(err)
		}
		if state == "running" && wal != nil && *wal > 0 {
			var walsender string
			if err := su.QueryRow(ctx, `SELECT a.usename FROM pg_replication_slots s JOIN pg_stat_activity a ON a.pid = s.active_pid
					WHERE s.slot_name LIKE 'pgparquet\_%\_%' AND s.database = current_database()`).Scan(&walsender); err != nil || walsender != "pgparquet" {
				t.Fatalf("the change run streams as %q (%v), want pgparquet", walsender, err)
			}
			break // streaming
		}
		if state != "queued" && state != "running" || time.Now().After(deadline) {
			t.Fatalf("the change run is %s (WAL %v) before it could be killed", state, wal)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p1.wait(t, 5*time.Second)
	startSidecar(t, bin, "p2", nil, "--dsn", dsn, "--output-root", root)
	st := waitFor(t, su, second, "succeeded", 90*time.Second)
	if st.Attempt != 2 || st.Sidecar != "p2" || st.Rows != 300000 {
		t.Errorf("the change run after kill -9: %+v, want 300000 rows in attempt 2 on p2", st)
	}
	chain := filepath.Join(root, "alice", "public.chain_t", "incremental")
	runs, err := incremental.PublishedRuns(chain)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[1].Manifest.Incremental.Ops["update"] != 300000 {
		t.Fatalf("chain after kill -9: %d runs, want 2 (the second with 300000 updates)", len(runs))
	}
	m, err := incremental.Materialize(ctx, incremental.MaterializeOptions{Input: chain, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sameAsTable(ctx, t, su, "chain_t", m.File)
	pgtest.Exec(t, alice, fmt.Sprintf(`SELECT parquet_export_chain_end(chain_id) FROM parquet_export_requests WHERE id = %d`, second))
	deadline = time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := su.QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'pgparquet\_%\_%' AND database = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended chain's slot is still there")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sameAsTable fails t unless file, a materialized chain read by DuckDB, holds table's rows (by
// id) as conn reads them.
func sameAsTable(ctx context.Context, t *testing.T, conn *pgx.Conn, table, file string) {
	t.Helper()
	want, err := readback.FromTable(ctx, conn, table, "id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readback.FromParquet(ctx, readback.ReaderDuckDB, "id", file)
	if err != nil {
		t.Fatal(err)
	}
	if d := readback.Diff(want, got, 5); len(d) > 0 {
		t.Fatalf("materialized chain differs from %s:\n%s", table, strings.Join(d, "\n"))
	}
}
