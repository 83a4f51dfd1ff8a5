package sidecar

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestSidecarGPUMode checks the sidecar's --gpu, the sidecar running as deploy/roles.sql's
// pgparquet for a requester granted only the table: off keeps every export on the CPU and says
// so in parquet_export_sidecars; on refuses to start where no GPU is usable (skipped where one
// is); anything else is refused by New.
func TestSidecarGPUMode(t *testing.T) {
	e := leastPrivilegeReqEnv(t)
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO req`)

	t.Run("off", func(t *testing.T) {
		s := e.start(t, "gpu-off", func(c *Config, _ *hooks) { c.GPU = device.ModeOff })
		waitHealthy(t, s.Sidecar, true) // the control tables exist once it polled
		id := insert(t, e.req, "items", "")
		st := e.waitState(t, id, "succeeded", 30*time.Second)
		if st.Rows != 1000 {
			t.Fatalf("rows %d, want 1000", st.Rows)
		}
		var decoder, gpu string
		if err := e.su.QueryRow(context.Background(), `SELECT r.decoder, s.gpu FROM parquet_export_requests r
			JOIN parquet_export_sidecars s ON s.sidecar = r.claimed_by WHERE r.id = $1`, id).Scan(&decoder, &gpu); err != nil {
			t.Fatal(err)
		}
		if decoder != "cpu" || gpu != "no: --gpu off" {
			t.Fatalf("decoder %q, sidecar's gpu %q; want cpu and %q", decoder, gpu, "no: --gpu off")
		}
	})

	t.Run("on without a GPU", func(t *testing.T) {
		if device.Start(device.ModeAuto, "", nil).Err() == nil {
			t.Skip("a usable GPU is here")
		}
		cfg, err := pgx.ParseConfig(e.dsn)
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{ConnConfig: cfg, OutputRoot: e.root, ID: "gpu-on", GPU: device.ModeOn})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = s.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "--gpu on, but the GPU is not usable") {
			t.Fatalf("Run: %v, want a refusal naming --gpu on", err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(e.dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{ConnConfig: cfg, OutputRoot: e.root, GPU: "maybe"})
		if err == nil || !strings.Contains(err.Error(), `gpu: "maybe" is not auto, on or off`) {
			t.Fatalf("New: %v", err)
		}
	})
}
