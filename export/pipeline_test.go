package export

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/pgcopy"
	"github.com/pgparquet/pgparquet/snapshot"
)

// TestPipelineAlone measures the export's pipeline without its source: every COPY buffer of a
// table is received first (not timed) and copied into the decoder's receive memory (pinned
// once the GPU is up), then the lanes decode, encode, compress and write them (to files in
// the output directory, as an export does) with nothing else running. It is the issue's "GPU
// pipeline alone" (COPY bytes already in pinned host buffers → compressed pages in host
// memory), through the export's own code rather than a model of it. It runs only where
// $PGPARQUET_PIPELINE_DSN and $PGPARQUET_PIPELINE_TABLE are set (the GPU host's bench script);
// $PGPARQUET_PIPELINE_GPU (on, off; default on), _PARALLEL (16), _BUFFER (the receive buffer
// size in bytes, the batches' size; default the export's), _OUT (a directory: the output files,
// then removed; default a test temp dir), _JSON (a file for the figures), _PROFILE (a CPU
// profile of the timed part), _BLOCKPROFILE (a block profile of it) and _TRACE (an execution
// trace of it, read by bench/traceregions) tune it.
func TestPipelineAlone(t *testing.T) {
	dsn, table := os.Getenv("PGPARQUET_PIPELINE_DSN"), os.Getenv("PGPARQUET_PIPELINE_TABLE")
	if dsn == "" || table == "" {
		t.Skip("set $PGPARQUET_PIPELINE_DSN and $PGPARQUET_PIPELINE_TABLE (the GPU host's bench script does)")
	}
	ctx := context.Background()
	conn, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	parallel := 16
	if s := os.Getenv("PGPARQUET_PIPELINE_PARALLEL"); s != "" {
		if parallel, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	mode := device.Mode(os.Getenv("PGPARQUET_PIPELINE_GPU"))
	if mode == "" {
		mode = device.ModeOn
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	engine := device.Start(mode, os.Getenv("PGPARQUET_CUDA_LIB"), log)
	out := os.Getenv("PGPARQUET_PIPELINE_OUT")
	if out == "" {
		out = t.TempDir()
	}
	bufferSize := 0 // the default
	if s := os.Getenv("PGPARQUET_PIPELINE_BUFFER"); s != "" {
		if bufferSize, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := Options{ConnConfig: conn, Table: table, Parallel: parallel, OutputDir: out, Overwrite: true,
		Engine: engine, Logger: log, BufferSize: bufferSize}.compile()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := prepareOutputDir(cfg.Root, cfg.OutputDir, "pipeline", true)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Discard(ctx) //nolint:errcheck // a measurement's files
	e, err := prepare(ctx, cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()

	// Receive everything into the decoder's receive memory, pinned once the GPU is up (waited
	// for here): no buffer goes back to the pool, none is in the Go heap while timing (without a
	// GPU they are, and the garbage collector sees a heap the size of the table).
	if mode != device.ModeOff {
		if gpu, why := engine.Compression(cfg.codec, cfg.level); !gpu {
			t.Logf("compression on the CPU: %s", why)
		}
	}
	var copyBytes, bufs, pinned atomic.Int64
	held := make([][]*snapshot.Buffer, len(e.workers))
	queue := make(chan snapshot.Task, len(e.tasks))
	for _, task := range e.tasks {
		queue <- task
	}
	close(queue)
	recvStart := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for i, w := range e.workers {
		g.Go(func() error {
			for task := range queue {
				err := w.CopyTask(gctx, task, func(b *snapshot.Buffer) error {
					d := append(e.dec.Alloc(len(b.Data)), b.Data...)
					if mode != device.ModeOff && e.dec.Keep(d) {
						pinned.Add(1)
					}
					copyBytes.Add(int64(len(d)))
					bufs.Add(1)
					c := &snapshot.Buffer{Chunk: pgcopy.Chunk{Data: d, RowStarts: append([]uint32(nil), b.RowStarts...),
						StreamOffset: b.StreamOffset, FirstRow: b.FirstRow}, Task: b.Task}
					b.Release()
					held[i] = append(held[i], c)
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	recvWall := time.Since(recvStart).Seconds()
	runtime.GC()
	t.Logf("received %d buffers, %.3f GB of COPY, in %.2f s (%.2f GB/s), %d of them in pinned memory; decoder %s",
		bufs.Load(), float64(copyBytes.Load())/1e9, recvWall, float64(copyBytes.Load())/1e9/recvWall, pinned.Load(), e.dec.Path())

	// A CPU profile, and where each lane's time goes by stage (bench/traceregions reads it).
	defer record(t, "PGPARQUET_PIPELINE_PROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile)()
	defer record(t, "PGPARQUET_PIPELINE_TRACE", trace.Start, trace.Stop)()
	if p := os.Getenv("PGPARQUET_PIPELINE_BLOCKPROFILE"); p != "" {
		// Where the lanes wait on each other and on the device's results (channels, locks;
		// time inside cgo calls is not blocking to Go and shows in neither profile).
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		defer func() {
			f, err := os.Create(p)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("block").WriteTo(f, 0); err != nil {
				t.Error(err)
			}
			runtime.SetBlockProfileRate(0)
		}()
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0) //nolint:errcheck // RUSAGE_SELF does not fail
	start := time.Now()
	series := make([]*fileSeries, len(held))
	g, gctx = errgroup.WithContext(ctx)
	for i, lane := range held {
		ch := make(chan *snapshot.Buffer, len(lane))
		for _, b := range lane {
			ch <- b
		}
		close(ch)
		s := &fileSeries{format: e.format}
		series[i] = s
		g.Go(func() error { return e.lanes.write(gctx, s, ch) })
	}
	err = g.Wait()
	wall := time.Since(start).Seconds()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1) //nolint:errcheck
	if err != nil {
		t.Fatal(err)
	}
	cpu := tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime)
	var parquet int64
	for _, s := range series {
		for _, f := range s.done {
			parquet += f.Bytes
		}
	}
	res := map[string]any{"table": table, "parallel": len(held), "decoder": e.dec.Path(), "copy_bytes": copyBytes.Load(),
		"pinned_buffers": pinned.Load(), "buffers": bufs.Load(), "receive_seconds": recvWall, "seconds": wall, "gb_per_s": float64(copyBytes.Load()) / 1e9 / wall,
		"cpu_s": cpu, "cpu_s_per_gb": cpu / (float64(copyBytes.Load()) / 1e9), "parquet_bytes": parquet,
		"page_writer": os.Getenv(pageWriterEnv), "buffer_size": cfg.BufferSize}
	t.Logf("pipeline alone: %.3f GB of COPY in %.2f s: %.2f GB/s, %.1f CPU-s (%.2f per GB), Parquet %.3f GB, decoder %s",
		float64(copyBytes.Load())/1e9, wall, res["gb_per_s"], cpu, res["cpu_s_per_gb"], float64(parquet)/1e9, e.dec.Path())
	if p := os.Getenv("PGPARQUET_PIPELINE_JSON"); p != "" {
		b, _ := json.Marshal(res)
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range series {
		s.abort()
	}
}

// record starts a recording (start) into the file $env names, if set, and returns what stops
// it and closes the file.
func record(t *testing.T, env string, start func(io.Writer) error, stop func()) func() {
	p := os.Getenv(env)
	if p == "" {
		return func() {}
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := start(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		stop()
		f.Close()
	}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
