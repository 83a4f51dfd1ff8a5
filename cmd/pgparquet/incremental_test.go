package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
