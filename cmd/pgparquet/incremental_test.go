package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestIncrementalCLI runs export --incremental twice (snapshot, then changes) and materialize,
// and checks the refusal of a table without a replica identity.
func TestIncrementalCLI(t *testing.T) {
	bin := buildBinary(t)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE inc (id int PRIMARY KEY, s text); INSERT INTO inc SELECT g, 's' || g FROM generate_series(1, 100) g`)
	pgtest.Exec(t, conn, `CREATE TABLE nokey (id int, s text)`)
	dir := t.TempDir()
	t.Cleanup(func() { pgtest.Exec(t, conn, `SELECT pg_drop_replication_slot('pgparquet_public_inc')`) })
	runCLI := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	type manifest struct {
		Rows        int64
		Incremental struct {
			Mode, Slot string
			Ops        map[string]int64
		}
	}
	export := func(mode string) manifest {
		t.Helper()
		out, errOut, err := runCLI("export", "--incremental", "--dsn", dsn, "--table", "inc", "--output-dir", dir, "--parallel", "2", "--no-progress")
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		var m manifest
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("summary %q: %v", out, err)
		}
		if m.Incremental.Mode != mode || m.Incremental.Slot != "pgparquet_public_inc" {
			t.Fatalf("summary: %+v, want mode %s", m, mode)
		}
		return m
	}
	if m := export("snapshot"); m.Rows != 100 {
		t.Fatalf("snapshot rows %d", m.Rows)
	}
	pgtest.Exec(t, conn, `DELETE FROM inc WHERE id > 90; UPDATE inc SET s = 'x' WHERE id = 1`)
	if m := export("changes"); m.Incremental.Ops["delete"] != 10 || m.Incremental.Ops["update"] != 1 {
		t.Fatalf("changes: %+v", m)
	}
	outDir := t.TempDir()
	out, errOut, err := runCLI("materialize", "--input", dir, "--output-dir", outDir)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var res struct {
		File string
		Rows int64
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Rows != 90 || res.File != filepath.Join(outDir, "part-00000.parquet") {
		t.Fatalf("materialize: %q %v", out, err)
	}

	_, errOut, err = runCLI("export", "--incremental", "--dsn", dsn, "--table", "nokey", "--output-dir", t.TempDir(), "--no-progress")
	if err == nil || !strings.Contains(errOut, "REPLICA IDENTITY") {
		t.Fatalf("a table without a key: %v\n%s", err, errOut)
	}
}

// TestIncrementalCLILeastPrivilege runs export --incremental as a role with nothing but LOGIN,
// REPLICATION and SELECT on the table (no superuser, not the table's owner), as
// docs/incremental.md's requirements allow: its first run is refused with PostgreSQL's reason
// (creating a publication takes CREATE on the database, and one for a table owning the
// table) and leaves no slot, and once a DBA created the publication (named as the slot) the
// chain's snapshot and change runs succeed and materialize to the table.
func TestIncrementalCLILeastPrivilege(t *testing.T) {
	bin := buildBinary(t)
	dsn := shared.NewDB(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `DO $$ BEGIN CREATE ROLE etl LOGIN REPLICATION PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`)
	pgtest.Exec(t, conn, `CREATE TABLE inc_etl (id int PRIMARY KEY, s text); INSERT INTO inc_etl SELECT g, 's' || g FROM generate_series(1, 100) g`)
	pgtest.Exec(t, conn, `GRANT SELECT ON inc_etl TO etl`)
	etlDSN := shared.Cluster(t).DSNAs(cfg.Database, "etl", "pw")
	const slot = "pgparquet_public_inc_etl"
	t.Cleanup(func() {
		conn.Exec(context.Background(), `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot) //nolint:errcheck // best effort
	})
	dir := t.TempDir()
	export := func() (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--incremental", "--dsn", etlDSN, "--table", "inc_etl", "--output-dir", dir, "--no-progress")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	if _, errOut, err := export(); err == nil || !strings.Contains(errOut, "publication "+slot+" for public.inc_etl: ERROR: permission denied") {
		t.Fatalf("first run without a publication: %v\n%s, want the publication refused (permission denied)", err, errOut)
	}
	var slots int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&slots); err != nil || slots != 0 {
		t.Fatalf("%d slots named %s after the refused run (%v), want none", slots, slot, err)
	}
	pgtest.Exec(t, conn, `CREATE PUBLICATION `+slot+` FOR TABLE inc_etl`) // the DBA's part
	var m struct {
		Rows        int64
		Incremental struct {
			Mode string
			Ops  map[string]int64
		}
	}
	for i, want := range []string{"snapshot", "changes"} {
		out, errOut, err := export()
		if err != nil {
			t.Fatalf("%s run as etl: %v\n%s", want, err, errOut)
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil || m.Incremental.Mode != want {
			t.Fatalf("%s run as etl printed %q (%v)", want, out, err)
		}
		if i == 0 {
			if m.Rows != 100 {
				t.Fatalf("snapshot run as etl: %d rows, want 100", m.Rows)
			}
			pgtest.Exec(t, conn, `DELETE FROM inc_etl WHERE id > 90; UPDATE inc_etl SET s = 'x' WHERE id = 1; INSERT INTO inc_etl VALUES (101, 'new')`)
		}
	}
	if m.Incremental.Ops["delete"] != 10 || m.Incremental.Ops["update"] != 1 || m.Incremental.Ops["insert"] != 1 {
		t.Fatalf("changes run as etl: %+v, want 10 deletes, 1 update, 1 insert", m)
	}
	mat, err := incremental.Materialize(context.Background(), incremental.MaterializeOptions{Input: dir, OutputDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sameAsTable(ctx, t, conn, "inc_etl", mat.File)
}
