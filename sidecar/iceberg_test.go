package sidecar

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/internal/s3test"
	"github.com/pgparquet/pgparquet/lakehouse"
)

// readIceberg reads table back, its current snapshot, through the SQL catalog in dsn's
// database with pyiceberg and DuckDB's iceberg extension.
func readIceberg(t *testing.T, dsn, table string, columns []string, s3 *readback.S3Access) *readback.IcebergRead {
	t.Helper()
	r, err := readback.FromIceberg(context.Background(), readback.IcebergQuery{Database: dsn, Table: table, Columns: columns, S3: s3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// icebergStatus is a request's Iceberg columns of parquet_export_status and the metadata file.
type icebergStatus struct {
	Table, OutputURI, Metadata string
	Snapshot                   int64
}

func (e *env) icebergStatus(t *testing.T, id int64) icebergStatus {
	t.Helper()
	var st icebergStatus
	if err := e.su.QueryRow(context.Background(), `SELECT coalesce(s.iceberg_table, ''), coalesce(s.iceberg_snapshot, 0),
			coalesce(s.output_uri, ''), coalesce(r.iceberg_metadata, '')
		FROM parquet_export_status s JOIN parquet_export_requests r USING (id) WHERE id = $1`, id).
		Scan(&st.Table, &st.Snapshot, &st.OutputURI, &st.Metadata); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestIcebergCommits runs the sidecar as its least-privilege role: a request naming an Iceberg
// table is committed after it is published (the status shows the table, the snapshot and the
// output's URI), a second one makes a second snapshot, and pyiceberg and DuckDB read the
// table's rows back. alice cannot name bob's namespace; a column type change Iceberg cannot
// follow fails the request with one line and deletes its files, the table unchanged; the
// files of a snapshot are not alice's to delete.
func TestIcebergCommits(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	e.role(t, "bob")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id, 'item ' || g AS name FROM generate_series(1, 100) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true)
	ctx := context.Background()

	request := func(opts string) int64 {
		t.Helper()
		var id int64
		if err := alice.QueryRow(ctx, `SELECT parquet_export('items', $1)`, opts).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	start := time.Now()
	first := request(`{"iceberg_table": "alice.items", "output_path": "items/1"}`)
	st := e.waitState(t, first, "succeeded", 30*time.Second)
	ice1 := e.icebergStatus(t, first)
	t.Logf("first commit (creates the table) in %s", time.Since(start))
	if want := "file://" + filepath.ToSlash(filepath.Join(e.root, "alice", "items", "1")); ice1.Table != "alice.items" || ice1.Snapshot == 0 || ice1.OutputURI != want || ice1.Metadata == "" {
		t.Errorf("first request: %+v, want alice.items, a snapshot, output_uri %s", ice1, want)
	}
	if want := filepath.Join(e.root, "alice", ".iceberg", "alice.db", "items", "metadata"); !strings.HasPrefix(ice1.Metadata, "file://"+want) {
		t.Errorf("metadata %s, want under %s", ice1.Metadata, want)
	}
	e.checkFiles(t, first, st.OutputDir)

	pgtest.Exec(t, e.su, `INSERT INTO items SELECT g, 'item ' || g FROM generate_series(101, 150) g`)
	start = time.Now()
	second := request(`{"iceberg_table": "alice.items", "output_path": "items/2"}`)
	e.waitState(t, second, "succeeded", 30*time.Second)
	ice2 := e.icebergStatus(t, second)
	t.Logf("second commit in %s", time.Since(start))
	if ice2.Snapshot == 0 || ice2.Snapshot == ice1.Snapshot {
		t.Errorf("second request's snapshot %d, first's %d: want a new one", ice2.Snapshot, ice1.Snapshot)
	}

	got := readIceberg(t, e.dsn, "alice.items", []string{"id", "name"}, nil)
	want := pgtest.TextRows(t, e.su, `SELECT id::text, name FROM items ORDER BY items.id`)
	if !slices.EqualFunc(got.PyIceberg.Rows, want, sameRow) || !slices.EqualFunc(got.DuckDB.Rows, want, sameRow) {
		t.Errorf("read back %d rows with pyiceberg, %d with DuckDB; want the %d of PostgreSQL", len(got.PyIceberg.Rows), len(got.DuckDB.Rows), len(want))
		for i := range want {
			if !sameRow(got.PyIceberg.Rows[i], want[i]) || !sameRow(got.DuckDB.Rows[i], want[i]) {
				t.Logf("row %d: pyiceberg %q, DuckDB %q, want %q", i, show(got.PyIceberg.Rows[i]), show(got.DuckDB.Rows[i]), show(want[i]))
				break
			}
		}
	}
	if len(got.PyIceberg.Snapshots) != 2 || got.PyIceberg.Current != ice2.Snapshot ||
		got.PyIceberg.Snapshots[1].Summary[lakehouse.SummaryRequestID] != strconv.FormatInt(second, 10) {
		t.Errorf("snapshots %+v (current %d), want 2, the second request's current", got.PyIceberg.Snapshots, got.PyIceberg.Current)
	}

	// Another role's namespace, refused when written.
	if _, err := alice.Exec(ctx, `SELECT parquet_export('items', '{"iceberg_table": "bob.items"}')`); err == nil ||
		!strings.Contains(err.Error(), "iceberg_table 'bob.items': its namespace must be your role's name, 'alice'") {
		t.Errorf("alice's request for bob.items: %v", err)
	}

	// A type change Iceberg cannot follow: the request fails with one line, its files go.
	pgtest.Exec(t, e.su, `ALTER TABLE items ALTER COLUMN id TYPE text`)
	third := request(`{"iceberg_table": "alice.items", "output_path": "items/3"}`)
	st = e.waitState(t, third, "failed", 30*time.Second)
	if !strings.Contains(st.Error, `column "id" is int in table alice.items but string in this export`) ||
		!strings.HasSuffix(st.Error, "the export's files were deleted") || strings.Contains(st.Error, "\n") {
		t.Errorf("third request failed with %q", st.Error)
	}
	if ice3 := e.icebergStatus(t, third); ice3.Snapshot != 0 {
		t.Errorf("failed request has snapshot %d", ice3.Snapshot)
	}
	dir := filepath.Join(e.root, "alice", "items", "3")
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed commit's directory %s still holds %v (%v)", dir, entries, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var live int
	if err := e.su.QueryRow(ctx, `SELECT count(*) FROM parquet_export_files WHERE request_id = $1 AND deleted_at IS NULL`, third).Scan(&live); err != nil || live != 0 {
		t.Errorf("%d files of the failed request not marked deleted (%v)", live, err)
	}
	if after := readIceberg(t, e.dsn, "alice.items", []string{"id"}, nil); after.PyIceberg.Current != ice2.Snapshot || len(after.PyIceberg.Snapshots) != 2 {
		t.Errorf("after the failed commit the table is at %d with %d snapshots, want %d of 2", after.PyIceberg.Current, len(after.PyIceberg.Snapshots), ice2.Snapshot)
	}

	// The files of a snapshot stay.
	_, err := alice.Exec(ctx, `SELECT parquet_export_delete($1)`, first)
	if want := "its files are the Iceberg table alice.items's snapshot " + strconv.FormatInt(ice1.Snapshot, 10) + "; expire the snapshot first"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("parquet_export_delete(%d): %v, want %q", first, err, want)
	}
}

// TestIcebergSchedule: a schedule naming an Iceberg table commits each run as a snapshot.
func TestIcebergSchedule(t *testing.T) {
	e := newEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 20) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO alice`)
	pgtest.Exec(t, alice, `SELECT parquet_export_schedule('minutely', '* * * * *', 'items', '{"output_path": "minutely/{slot}", "iceberg_table": "alice.minutely"}')`)
	clock := fastClock(60)
	e.start(t, "a", func(c *Config, h *hooks) { h.now = clock })
	time.Sleep(3 * time.Second)
	_, ids := e.scheduled(t, "minutely")
	if len(ids) < 2 {
		t.Fatalf("%d runs queued in 3 minutes of schedule", len(ids))
	}
	snaps := map[int64]bool{}
	for _, id := range ids {
		e.waitState(t, id, "succeeded", 30*time.Second)
		ice := e.icebergStatus(t, id)
		if ice.Table != "alice.minutely" || ice.Snapshot == 0 || snaps[ice.Snapshot] {
			t.Errorf("run %d: %+v", id, ice)
		}
		snaps[ice.Snapshot] = true
	}
	got := readIceberg(t, e.dsn, "alice.minutely", []string{"id"}, nil)
	if len(got.PyIceberg.Snapshots) < len(ids) || len(got.PyIceberg.Rows) != 20 {
		t.Errorf("table has %d snapshots for %d runs and %d rows, want 20", len(got.PyIceberg.Snapshots), len(ids), len(got.PyIceberg.Rows))
	}
}

// TestIcebergS3: with an S3 output root the request's output_uri is its s3:// prefix, the
// table's metadata goes below the requester's prefix, and the table reads back from S3.
func TestIcebergS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "exports")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 500) g`)
	e.start(t, "a", func(c *Config, _ *hooks) { c.OutputRoot, c.S3PathStyle = "s3://exports/root", true })
	var id int64
	if err := e.req.QueryRow(context.Background(), `SELECT parquet_export('items', '{"iceberg_table": "req.items", "output_path": "items/1"}')`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, id, "succeeded", 60*time.Second)
	ice := e.icebergStatus(t, id)
	if ice.OutputURI != "s3://exports/root/req/items/1" || ice.Snapshot == 0 || !strings.HasPrefix(ice.Metadata, "s3://exports/root/req/.iceberg/req.db/items/metadata/") {
		t.Errorf("request: %+v", ice)
	}
	got := readIceberg(t, e.dsn, "req.items", []string{"id"}, &readback.S3Access{Endpoint: srv.Endpoint, Key: s3test.RootAccess, Secret: s3test.RootSecret, Region: s3test.Region})
	if len(got.PyIceberg.Rows) != 500 || len(got.DuckDB.Rows) != 500 {
		t.Errorf("read back %d rows with pyiceberg, %d with DuckDB, want 500", len(got.PyIceberg.Rows), len(got.DuckDB.Rows))
	}
}

// sameRow compares two rows of text values (nil for null).
func sameRow(a, b []*string) bool {
	return slices.EqualFunc(a, b, func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) })
}

func show(row []*string) string {
	var b strings.Builder
	for _, v := range row {
		if v == nil {
			b.WriteString("NULL ")
		} else {
			b.WriteString(*v + " ")
		}
	}
	return b.String()
}

// TestIcebergRollForward kills the sidecar during a publication (before it moved the files;
// after it committed them): the other sidecar's janitor rolls the publication forward, and the
// request ends with one snapshot of its own, never two.
func TestIcebergRollForward(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 300) g`)
	for i, step := range []string{"publishing", "committed"} {
		t.Run("killed when "+step, func(t *testing.T) {
			a := e.start(t, "a"+strconv.Itoa(i), func(_ *Config, h *hooks) {
				h.onPublish = func(s *Sidecar, at string) {
					if at == step {
						s.kill()
					}
				}
			})
			table := "req.rolled_" + step
			var id int64
			if err := e.req.QueryRow(context.Background(), `SELECT parquet_export('items', $1)`,
				`{"iceberg_table": "`+table+`", "output_path": "`+step+`"}`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); !a.killed.Load(); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("sidecar a never reached %s: %+v", step, e.status(t, id))
				}
			}
			a.stop()
			if st := e.status(t, id); st.State != "publishing" {
				t.Fatalf("after the kill: %+v, want publishing", st)
			}
			b := e.start(t, "b"+strconv.Itoa(i), nil)
			st := e.waitState(t, id, "succeeded", 30*time.Second)
			b.stop()
			e.checkFiles(t, id, st.OutputDir)
			ice := e.icebergStatus(t, id)
			got := readIceberg(t, e.dsn, table, []string{"id"}, nil)
			if ice.Snapshot == 0 || len(got.PyIceberg.Snapshots) != 1 || got.PyIceberg.Current != ice.Snapshot || len(got.PyIceberg.Rows) != 300 {
				t.Errorf("request %+v; table: %d snapshots, current %d, %d rows; want one snapshot, the request's, of 300 rows",
					ice, len(got.PyIceberg.Snapshots), got.PyIceberg.Current, len(got.PyIceberg.Rows))
			}
		})
	}
}
