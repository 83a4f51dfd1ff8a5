package sidecar

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestRoleLimits checks what one role may take: its queue is bounded at INSERT, priority is an
// administrator's option, its exports stop at its max_output_bytes (leaving nothing behind),
// and another role's export is not affected.
func TestRoleLimits(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.role(t, "alice"), e.role(t, "bob")
	pgtest.Exec(t, e.su, `CREATE TABLE big AS SELECT g AS id, md5(g::text) AS a, md5((-g)::text) AS b FROM generate_series(1, 200000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON big TO alice, bob`)
	pgtest.Exec(t, e.su, `INSERT INTO parquet_export_limits (role, max_queued, max_output_bytes) VALUES ('alice', 2, 100000)`)

	ctx := context.Background()
	if _, err := alice.Exec(ctx, `INSERT INTO parquet_export_requests (table_name, priority) VALUES ('big', 5)`); err == nil ||
		!strings.Contains(err.Error(), "priority is an administrator's option") {
		t.Errorf("alice's priority 5: %v, want refused", err)
	}
	first := insert(t, alice, "big", "")
	insert(t, alice, "big", "")
	if _, err := alice.Exec(ctx, `INSERT INTO parquet_export_requests (table_name) VALUES ('big')`); err == nil ||
		!strings.Contains(err.Error(), "role alice already has 2 queued requests, its limit") {
		t.Errorf("alice's third queued request: %v, want refused by max_queued", err)
	}
	bobID := insert(t, bob, "big", "")

	e.start(t, "s1", nil)
	st := e.waitState(t, first, "failed", 30*time.Second)
	if want := "output limit reached: the export's Parquet output passed 97.7 KiB (max_output_bytes)"; !strings.Contains(st.Error, want) || st.Attempt != 1 {
		t.Errorf("alice's export: %+v, want one attempt failing with %q", st, want)
	}
	if _, err := os.Stat(filepath.Join(e.root, "alice", "public.big", fmt.Sprint(first))); !os.IsNotExist(err) {
		t.Errorf("alice's stopped export left its directory: %v", err)
	}
	if st := e.waitState(t, bobID, "succeeded", 30*time.Second); st.Rows != 200000 {
		t.Errorf("bob's export: %+v", st)
	}
}

// TestOutputReserve: an export that would leave less free space on the output root than the
// sidecar's reserve is not run, with a one-line reason.
func TestOutputReserve(t *testing.T) {
	e := newEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 100) g`)
	e.start(t, "s1", func(c *Config, _ *hooks) { c.OutputReserve = 1 << 60 })
	id := insert(t, e.req, "items", "")
	st := e.waitState(t, id, "failed", 30*time.Second)
	if want := "free space below the reserve: the output file system has less free space than the 1.0 EiB kept for other exports"; !strings.Contains(st.Error, want) || strings.Contains(st.Error, e.root) {
		t.Errorf("error %q, want one containing %q and not the output root's path", st.Error, want)
	}
}
