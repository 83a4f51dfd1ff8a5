package export_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pqfile"
)

// startingEngine stands in for device.Device in CI, which has no GPU: the Go decoder, with a
// "GPU start" that is over after the export has asked Probed readyAfter times (never when
// negative), and then a page encoder (or none: refuse) that has what the GPU's has besides
// its device work: page buffers from an allocator of its own (checked: every buffer freed), the
// PLAIN string columns registered with it (bytesAppender). It counts what it encoded.
type startingEngine struct {
	readyAfter int64
	refuse     bool
	asked      atomic.Int64
	mem        *memory.CheckedAllocator
	enc        *startedEncoder
	mu         sync.Mutex
	made       int
}

func (e *startingEngine) NewDecoder(cols []pgarrow.Column, mem memory.Allocator) gpuparse.StreamDecoder {
	return gpuparse.CPU.NewDecoder(cols, mem)
}

func (e *startingEngine) Probed() bool {
	return e.readyAfter >= 0 && e.asked.Add(1) > e.readyAfter
}

func (e *startingEngine) PlainEncoder(c compress.Compression) (pqfile.PlainEncoder, func(), string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.made++
	if e.refuse {
		return nil, nil, "no GPU here"
	}
	twin, err := pqfile.NewCPUPlain(c)
	if err != nil {
		return nil, nil, err.Error()
	}
	e.enc = &startedEncoder{CPUPlain: twin, mem: e.mem}
	return e.enc, func() {}, ""
}

// startedEncoder is startingEngine's page encoder: the CPU twin's pages in buffers of mem.
type startedEncoder struct {
	*pqfile.CPUPlain
	mem                  memory.Allocator
	appends, byteBatches atomic.Int64
	plainBytes           sync.Map
}

func (s *startedEncoder) Append(cols []arrow.Array, dst []*pqfile.PlainColumn) error {
	s.appends.Add(1)
	return s.CPUPlain.Append(cols, dst)
}

func (s *startedEncoder) PageAllocator() memory.Allocator { return s.mem }

func (s *startedEncoder) PlainBytes(field int) { s.plainBytes.Store(field, true) }

func (s *startedEncoder) AppendBytes(a arrow.Array, c *pqfile.ByteColumn) (bool, error) {
	s.byteBatches.Add(1)
	return true, c.Append(a)
}

// TestEncoderWhileGPUStarts: an export whose engine's GPU is still starting does not wait
// for it: its files start with the CPU twin and take the engine's encoder at a row group's
// start once the start is over (or keep the twin when the engine has no encoder, or when the
// start outlasts the export). Every value reads back as PostgreSQL's with pyarrow and DuckDB,
// every statistic is true, the row groups are those of an export with the CPU twin alone,
// the encoder's page buffers are all given back, and the log says what encoded the pages.
func TestEncoderWhileGPUStarts(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE starting AS SELECT g AS id, CASE WHEN g % 9 = 0 THEN NULL ELSE g * 0.25 END AS x,
 md5(g::text) || repeat('x', g % 40) AS note, (array['new','paid','shipped'])[1 + g % 3] AS status,
 (g % 997)::numeric(12,2) AS amount, timestamp '2020-01-01' + g * interval '1 minute' AS at,
 CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('id', g) END AS doc
 FROM generate_series(1, 40000) g; ANALYZE starting`)
	cols, err := readback.ColumnsOf(ctx, conn, "starting")
	if err != nil {
		t.Fatal(err)
	}
	want, err := readback.FromPostgres(ctx, conn, "starting", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, dir string, engine gpuparse.Engine) string {
		logs := &syncBuffer{}
		res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "starting", OutputDir: dir, Parallel: 1, Chunks: 3,
			RowGroupSize: 1000, BufferSize: 64 << 10, Engine: engine, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != int64(len(want.Rows)) {
			t.Fatalf("rows = %d, want %d", res.Rows, len(want.Rows))
		}
		checkReadback(t, want, dir, "", 20)
		checkStatistics(t, dir)
		return logs.String()
	}
	twinDir := t.TempDir()
	t.Run("CPU twin alone", func(t *testing.T) {
		t.Setenv("PGPARQUET_PAGE_WRITER", "cpu")
		run(t, twinDir, gpuparse.CPU)
	})
	const interim = "until the GPU has started"
	var atOnce int64 // batches the encoder took when the start was over before the export
	for _, c := range []struct {
		name       string
		readyAfter int64
		refuse     bool
	}{
		{"started at once", 0, false},
		{"started during the export", 40, false},
		{"started after the export", -1, false},
		{"started without an encoder", 40, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &startingEngine{readyAfter: c.readyAfter, refuse: c.refuse, mem: memory.NewCheckedAllocator(memory.NewGoAllocator())}
			dir := t.TempDir()
			logs := run(t, dir, e)
			sameRowGroups(t, twinDir, dir)
			if n := e.mem.CurrentAlloc(); n != 0 {
				t.Errorf("%d bytes of the encoder's page buffers not given back", n)
			}
			if got, want := strings.Contains(logs, interim), c.readyAfter != 0; got != want {
				t.Errorf("log says %q: %t, want %t:\n%s", interim, got, want, logs)
			}
			switch {
			case c.readyAfter < 0:
				if e.made != 0 {
					t.Errorf("the engine's encoder was asked for %d times before its start was over", e.made)
				}
			case c.refuse:
				if !strings.Contains(logs, "encoded by the GPU writer's CPU twin") && !strings.Contains(logs, "encoded on the CPU") {
					t.Errorf("the log does not say the CPU encodes the pages:\n%s", logs)
				}
			default:
				enc := e.enc
				if enc == nil || enc.appends.Load() == 0 || enc.byteBatches.Load() == 0 {
					t.Fatalf("the engine's encoder encoded nothing (%+v):\n%s", enc, logs)
				}
				registered := 0
				enc.plainBytes.Range(func(any, any) bool { registered++; return true })
				if registered == 0 {
					t.Error("no PLAIN string column was registered with the engine's encoder")
				}
				t.Logf("the engine's encoder took %d batches of fixed-width columns and %d of strings", enc.appends.Load(), enc.byteBatches.Load())
				if c.readyAfter == 0 {
					atOnce = enc.appends.Load()
				} else if n := enc.appends.Load(); n >= atOnce {
					t.Errorf("the engine's encoder took %d batches, as many as when its start was over before the export (%d): the CPU twin took none", n, atOnce)
				}
			}
		})
	}
}
