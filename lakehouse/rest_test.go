package lakehouse_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/lakehouse/resttest"
	"github.com/pgparquet/pgparquet/outcome"
)

// TestRESTCatalog commits two exports of one PostgreSQL table to a table of a real REST
// catalog (Apache Iceberg's REST catalog server, package resttest) and reads it back with
// pyiceberg through the same REST catalog and with DuckDB's iceberg extension: rows and
// values are PostgreSQL's, the table has two snapshots (append, then overwrite) whose
// summaries name the PostgreSQL snapshot, LSN, source table and request, time travel to the
// first gives its rows, and a request committed again makes no third snapshot.
func TestRESTCatalog(t *testing.T) {
	ctx := context.Background()
	srv := resttest.Start(t)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE orders (id bigint PRIMARY KEY, qty int, item text, price numeric(10,2), day date, ref uuid)`)
	pgtest.Exec(t, conn, `INSERT INTO orders SELECT g, g % 7, 'item ' || g, g * 1.25, '2026-01-01'::date + g, md5(g::text)::uuid FROM generate_series(1, 1000) g`)
	cols := []string{"id", "qty", "item", "price", "day", "ref"}
	selectAll := `SELECT id::text, qty::text, item, price::text, day::text, ref::text FROM orders ORDER BY orders.id`

	cat, err := lakehouse.Open(ctx, lakehouse.Config{URI: "rest+" + srv.URI})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if cat.String() != "rest+"+srv.URI {
		t.Errorf("catalog shown as %q", cat)
	}
	const ident = "sales.orders"
	root := t.TempDir()
	commit := func(name string) (*outcome.Iceberg, *outcome.Result) {
		t.Helper()
		dir := filepath.Join(root, name)
		res := exportTable(t, dsn, "orders", dir)
		ice, err := cat.Commit(ctx, request(t, ident, dir, res))
		if err != nil {
			t.Fatalf("commit %s: %v\nserver log:\n%s", name, err, srv.Log())
		}
		return ice, res
	}
	read := func(snapshot int64) *readback.IcebergRead {
		t.Helper()
		r, err := readback.FromIceberg(ctx, readback.IcebergQuery{REST: srv.URI, Table: ident, Columns: cols, Snapshot: snapshot})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	first, res1 := commit("run1")
	// The server's HadoopFileIO writes file:/path.
	if !first.Created || first.SnapshotID == 0 || !strings.HasPrefix(first.MetadataLocation, "file:"+strings.TrimPrefix(srv.Warehouse, "file://")+"/sales/orders/metadata/") {
		t.Errorf("first commit: %+v, want the table created under the server's warehouse %s", first, srv.Warehouse)
	}
	rows1 := pgtest.TextRows(t, conn, selectAll)
	pgtest.Exec(t, conn, `DELETE FROM orders WHERE id <= 100; UPDATE orders SET item = 'changed' WHERE id % 10 = 0`)
	pgtest.Exec(t, conn, `INSERT INTO orders (id, qty, item) SELECT g, 1, NULL FROM generate_series(1001, 1100) g`)
	second, res2 := commit("run2")
	if second.Created || second.SnapshotID == first.SnapshotID {
		t.Errorf("second commit: %+v", second)
	}

	r := read(0)
	checkRows(t, "current snapshot", r, pgtest.TextRows(t, conn, selectAll))
	if r.PyIceberg.Current != second.SnapshotID || len(r.PyIceberg.Snapshots) != 2 {
		t.Fatalf("snapshots %+v, current %d; want 2, current %d", r.PyIceberg.Snapshots, r.PyIceberg.Current, second.SnapshotID)
	}
	for i, want := range []struct {
		res *outcome.Result
		op  string
	}{{res1, "append"}, {res2, "overwrite"}} {
		s := r.PyIceberg.Snapshots[i]
		if s.Operation != want.op || s.Summary[lakehouse.SummarySnapshot] != want.res.Snapshot || s.Summary[lakehouse.SummaryLSN] != want.res.LSN ||
			s.Summary[lakehouse.SummarySourceTable] != "public.orders" || s.Summary[lakehouse.SummaryRequestID] != "req-"+want.res.Snapshot {
			t.Errorf("snapshot %d: %s %v; want %s with the export's snapshot %s, LSN %s and request", i, s.Operation, s.Summary, want.op, want.res.Snapshot, want.res.LSN)
		}
	}
	checkRows(t, "time travel to the first snapshot", read(first.SnapshotID), rows1)

	again, err := cat.Commit(ctx, request(t, ident, filepath.Join(root, "run1"), res1))
	if err != nil || again.SnapshotID != first.SnapshotID {
		t.Errorf("first request committed again: %+v, %v; want its snapshot %d", again, err, first.SnapshotID)
	}
	if r := read(0).PyIceberg; r.Current != second.SnapshotID || len(r.Snapshots) != 2 {
		t.Errorf("after a repeated request: current %d of %d snapshots, want %d of 2", r.Current, len(r.Snapshots), second.SnapshotID)
	}
}
