package export_test

import (
	"context"
	"fmt"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"slices"
	"testing"

	"github.com/pgparquet/pgparquet/export"
)

// TestExportRelationKinds exports every kind of relation that holds rows and checks the ids
// read back equal the ones PostgreSQL returns for SELECT id FROM the relation.
func TestExportRelationKinds(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	cfg := config(t, dsn)
	for _, sql := range []string{
		`CREATE TABLE empty (id bigint, v text)`,
		`CREATE TABLE plain AS SELECT g::bigint AS id, md5(g::text) AS v FROM generate_series(1, 20000) g`,
		`CREATE TABLE parted (id bigint, v text) PARTITION BY RANGE (id)`,
		`CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000)`,
		`CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (1000) TO (100000) PARTITION BY RANGE (id)`,
		`CREATE TABLE parted_2a PARTITION OF parted_2 FOR VALUES FROM (1000) TO (5000)`,
		`CREATE TABLE parted_2b PARTITION OF parted_2 FOR VALUES FROM (5000) TO (100000)`,
		`INSERT INTO parted SELECT g, md5(g::text) FROM generate_series(1, 30000) g`,
		`CREATE TABLE parent (id bigint, v text)`,
		`CREATE TABLE child (extra int) INHERITS (parent)`,
		`INSERT INTO parent SELECT g, 'p' FROM generate_series(1, 500) g`,
		`INSERT INTO child SELECT g, 'c', 7 FROM generate_series(501, 900) g`,
		`CREATE VIEW plain_view AS SELECT id, v FROM plain WHERE id % 3 = 0`,
		`CREATE MATERIALIZED VIEW plain_mat AS SELECT id, v FROM plain WHERE id % 5 = 0`,
		`CREATE EXTENSION postgres_fdw`,
		fmt.Sprintf(`CREATE SERVER loopback FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '%d', dbname '%s')`,
			shared.Cluster(t).Port(), cfg.Database),
		`CREATE USER MAPPING FOR CURRENT_USER SERVER loopback OPTIONS (user 'postgres')`,
		`CREATE FOREIGN TABLE plain_remote (id bigint, v text) SERVER loopback OPTIONS (table_name 'plain')`,
		`CREATE TABLE mixed (id bigint, v text) PARTITION BY RANGE (id)`,
		`CREATE TABLE mixed_local PARTITION OF mixed FOR VALUES FROM (0) TO (10001)`,
		`INSERT INTO mixed_local SELECT g, 'l' FROM generate_series(1, 10000) g`,
		`CREATE FOREIGN TABLE mixed_remote PARTITION OF mixed FOR VALUES FROM (10001) TO (30000) SERVER loopback OPTIONS (table_name 'remote_src')`,
		`CREATE TABLE remote_src AS SELECT g::bigint AS id, 'r'::text AS v FROM generate_series(10001, 20000) g`,
		`ANALYZE`,
	} {
		pgtest.Exec(t, conn, sql)
	}
	for _, table := range []string{"empty", "plain", "parted", "parted_2", "parent", "child", "plain_view", "plain_mat", "plain_remote", "mixed", `"public"."plain"`} {
		t.Run(table, func(t *testing.T) {
			var want []int64
			rows, err := conn.Query(ctx, "SELECT id FROM "+table+" ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				want = append(want, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(want) // ORDER BY over partitions trusts their bounds; a foreign one is not checked
			dir := t.TempDir()
			res, err := export.Run(ctx, export.Options{ConnConfig: cfg, Table: table, OutputDir: dir, Parallel: 3, Chunks: 7, Columns: []string{"id", "v"}})
			if err != nil {
				t.Fatal(err)
			}
			got := readInt64(t, dir, "id")
			slices.Sort(got)
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("exported %d ids, PostgreSQL has %d; first difference at %d: exported %d, PostgreSQL %d", len(got), len(want), i, got[i], want[i])
					}
				}
				t.Fatalf("exported %d ids, PostgreSQL has %d", len(got), len(want))
			}
			if res.Rows != int64(len(want)) || readManifest(t, dir).Rows != res.Rows {
				t.Fatalf("result rows %d, manifest %d, want %d", res.Rows, readManifest(t, dir).Rows, len(want))
			}
			t.Logf("%s: %d rows in %d tasks over %d workers, %d files", table, res.Rows, res.Tasks, res.Workers, len(res.Files))
		})
	}
}
