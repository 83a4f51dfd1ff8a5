package export_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pqfile"
)

// gpuStatsExports are the exports of st that TestGPUWriterStatisticsAreTrue writes on the GPU
// host, each into the subdirectory of its name, and checks here. "gpu" has
// TestExportStatisticsAreTrue's settings, which decode batches of about ten rows; "gpu-big"
// has receive buffers of 1 MiB, batches of about a hundred rows, so that the device encodes
// fragments of many rows, and row groups of up to 1000 rows (the lanes' dictionaries cut
// most at about 200).
//
// 3000 rows run every GPU path of the writer but one: the decoding, the fused fragments and
// groupings, the encoder of fixed-width pages (encode.cu) and the grouping of dictionary
// columns run on the device whatever the batch's size, and t's pages (up to 1 MiB), like some
// of jb's, reach the 32 KiB from which nvCOMP compresses them; the fixed-width columns' pages
// never do (3000 values of 8 bytes are 24 KB), so they are compressed on the CPU
// (device.Compression). Their values and statistics are still the GPU encoder's.
//
// "gpu-p1" has one connection and one ctid range, so that its batches, row groups and files do
// not depend on which lane took what: it is also exported on the GPU host through the CPU
// decoder and the CPU twins of the GPU writer, into "gpu-p1-cpu" (twin), and the check
// requires both to have the same files holding row groups of the same rows (the issue's "the
// same row counts per row group" on both paths).
var gpuStatsExports = []struct {
	name             string
	parallel, chunks int
	rowGroupSize     int64
	bufferSize       int
	twin             bool
}{
	{name: "gpu", parallel: 2, chunks: 4, rowGroupSize: 250, bufferSize: 64 << 10},
	{name: "gpu-big", parallel: 4, chunks: 8, rowGroupSize: 1000, bufferSize: 1 << 20},
	{name: "gpu-p1", parallel: 1, chunks: 1, rowGroupSize: 500, bufferSize: 256 << 10, twin: true},
}

// TestGPUWriterStatisticsAreTrue is TestExportStatisticsAreTrue for the GPU writer, in two
// halves, because the GPU host has neither Go nor Python (bench/gpuhost-s16-stats.sh runs the
// first half there from a compiled export.test; the second half checks its files here):
//
//   - With $PGPARQUET_GPU_STATS_DSN (an existing database, where st and spair are dropped
//     and created again) and $PGPARQUET_GPU_STATS_OUT (a directory), it exports st through the
//     GPU writer (device.ModeOn; the CUDA library from $PGPARQUET_CUDA_LIB, nvCOMP from
//     $PGPARQUET_NVCOMP_LIB) into OUT/NAME for each of gpuStatsExports, once the GPU is ready.
//     It fails when an export did not decode on the GPU, when the device's page encoder did
//     not encode most column batches there (gpuWriterProbe), when the export did not log that
//     the GPU encodes its pages, or when anything logged a warning (a CUDA error, for one,
//     sends a batch to the CPU).
//   - With $PGPARQUET_GPU_STATS_DIR (such an OUT directory), it creates st in a database of
//     the package's cluster and checks each export there as TestExportStatisticsAreTrue checks
//     its own: every statistic true (checkStatistics), pyarrow and DuckDB read PostgreSQL's
//     values (checkReaders).
//
// With both, the first runs first; without either it skips (CI has no GPU).
func TestGPUWriterStatisticsAreTrue(t *testing.T) {
	gpuHalves(t, "STATS", produceGPUStats, checkGPUStats)
}

// gpuHalves runs a test in two halves, as TestGPUWriterStatisticsAreTrue describes: produce
// with $PGPARQUET_GPU_<NAME>_DSN and _OUT, then check with _DIR; it skips without either.
func gpuHalves(t *testing.T, name string, produce func(t *testing.T, dsn, out string), check func(t *testing.T, dir string)) {
	env := "PGPARQUET_GPU_" + name + "_"
	dsn, out, dir := os.Getenv(env+"DSN"), os.Getenv(env+"OUT"), os.Getenv(env+"DIR")
	if (dsn == "" || out == "") && dir == "" {
		t.Skipf("set $%sDSN and $%sOUT (on the GPU host), or $%sDIR (their output)", env, env, env)
	}
	if dsn != "" && out != "" {
		t.Run("produce", func(t *testing.T) { produce(t, dsn, out) })
	}
	if dir != "" {
		t.Run("check", func(t *testing.T) { check(t, dir) })
	}
}

// gpuExports runs exports through the GPU writer on the GPU host, once its GPU is ready.
type gpuExports struct {
	dev  *device.Device
	logs *syncBuffer // the device's
}

// startGPU starts the device and waits for its GPU: the device decodes and encodes on the CPU
// until then, and waiting makes every batch of short exports the GPU's.
func startGPU(t *testing.T) *gpuExports {
	t.Helper()
	g := &gpuExports{logs: &syncBuffer{}}
	g.dev = device.Start(device.ModeOn, "", textLogger(g.logs))
	if err := g.dev.Err(); err != nil {
		t.Fatalf("the GPU cannot be used: %v", err)
	}
	return g
}

// run runs the export of opts (its Engine and Logger set here) and fails t unless it decoded
// on the GPU and the device's encoder encoded most column batches (gpuWriterProbe), the export
// logged that the GPU encodes its pages, and nothing logged a warning: a CUDA error or a lack
// of pinned memory sends work back to the CPU with one (the device's own, or the export's).
func (g *gpuExports) run(t *testing.T, opts export.Options) *outcome.Result {
	t.Helper()
	probe := &gpuWriterProbe{Device: g.dev}
	logs, devSeen := &syncBuffer{}, len(g.logs.String())
	opts.Engine, opts.Logger = probe, textLogger(logs)
	res, err := export.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.usedGPU(); err != nil {
		t.Error(err)
	}
	msgs := logs.String()
	if !strings.Contains(msgs, "Parquet pages of fixed-width columns are encoded on the GPU") {
		t.Errorf("the export did not log that the GPU encodes its pages; it logged:\n%s", msgs)
	}
	if w := warningLines(g.logs.String()[devSeen:] + msgs); w != "" {
		t.Errorf("warnings:\n%s", w)
	}
	return res
}

// produceGPUStats creates st in the database of dsn and exports it through the GPU writer into
// out/NAME for each of gpuStatsExports.
func produceGPUStats(t *testing.T, dsn, out string) {
	ctx := context.Background()
	t.Setenv("PGPARQUET_PAGE_WRITER", "") // the engine's encoder, not the CPU twin nor arrow-go's
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, "DROP TABLE IF EXISTS st; DROP TYPE IF EXISTS spair")
	createStatsTable(t, conn)
	gpu := startGPU(t)
	for _, ex := range gpuStatsExports {
		t.Run(ex.name, func(t *testing.T) {
			res := gpu.run(t, export.Options{ConnConfig: config(t, dsn), Table: "st",
				OutputDir: filepath.Join(out, ex.name), Overwrite: true,
				Parallel: ex.parallel, Chunks: ex.chunks, RowGroupSize: ex.rowGroupSize, BufferSize: ex.bufferSize})
			if res.Rows != statsRows {
				t.Fatalf("exported %d rows, want %d", res.Rows, statsRows)
			}
			if !ex.twin {
				return
			}
			// The same export on the CPU path: the CPU decoder, the GPU writer's CPU twins.
			cpu := device.Start(device.ModeOff, "", textLogger(os.Stderr))
			if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "st",
				OutputDir: filepath.Join(out, ex.name+"-cpu"), Overwrite: true, Engine: cpu, Logger: textLogger(os.Stderr),
				Parallel: ex.parallel, Chunks: ex.chunks, RowGroupSize: ex.rowGroupSize, BufferSize: ex.bufferSize}); err != nil {
				t.Fatalf("the CPU path's export: %v", err)
			}
		})
	}
}

// checkGPUStats checks the exports gpuStatsExports wrote into dir against st created here.
func checkGPUStats(t *testing.T, dir string) {
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	createStatsTable(t, conn)
	want := postgresValues(t, conn, "st")
	for _, ex := range gpuStatsExports {
		t.Run(ex.name, func(t *testing.T) {
			sub := filepath.Join(dir, ex.name)
			if _, err := os.Stat(sub); errors.Is(err, os.ErrNotExist) {
				t.Skipf("%s is not in %s (an output made before %s was added)", ex.name, dir, ex.name)
			}
			if m := readManifest(t, sub); m.Rows != statsRows {
				t.Fatalf("%s: manifest says %d rows, want %d", sub, m.Rows, statsRows)
			}
			checked := checkStatistics(t, sub)
			t.Logf("statistics compared: %+v", checked)
			minRowGroups := statsRows / int(ex.rowGroupSize)
			if checked.RowGroups < minRowGroups || checked.Pages <= checked.Chunks || checked.ChunkMinMax < checked.Chunks/2 ||
				checked.PageMinMax == 0 || checked.PageNullCounts == 0 {
				t.Errorf("compared %+v: want %d row groups or more, more pages than chunks, and most min/max", checked, minRowGroups)
			}
			checkReaders(t, want, sub, "", 20)
			if ex.twin {
				sameRowGroups(t, sub, sub+"-cpu")
			}
		})
	}
}

// sameRowGroups requires the exports in directories a and b to have as many Parquet files,
// file by file (in name order) holding row groups of the same rows.
func sameRowGroups(t *testing.T, a, b string) {
	t.Helper()
	fa, _ := filepath.Glob(filepath.Join(a, "*.parquet"))
	fb, _ := filepath.Glob(filepath.Join(b, "*.parquet"))
	if len(fa) == 0 || len(fa) != len(fb) {
		t.Fatalf("%d Parquet files in %s, %d in %s", len(fa), a, len(fb), b)
	}
	groups := 0
	for i := range fa {
		ra, _ := openParquet(t, fa[i])
		rb, _ := openParquet(t, fb[i])
		ma, mb := ra.MetaData(), rb.MetaData()
		if ma.NumRowGroups() != mb.NumRowGroups() {
			t.Fatalf("%s: %d row groups, %s %d", fa[i], ma.NumRowGroups(), fb[i], mb.NumRowGroups())
		}
		for rg := range ma.NumRowGroups() {
			if na, nb := ma.RowGroup(rg).NumRows(), mb.RowGroup(rg).NumRows(); na != nb {
				t.Errorf("%s row group %d: %d rows, %s's %d", fa[i], rg, na, fb[i], nb)
			}
		}
		groups += ma.NumRowGroups()
	}
	t.Logf("%d files, %d row groups of the same rows in %s and %s", len(fa), groups, a, b)
}

// gpuWriterProbe is the device as an export's engine, which also keeps what the export made
// of it, for usedGPU: its decoder, which it returns only once the decoder knows whether the
// GPU decodes (so that no chunk is decoded on the CPU meanwhile), and its page encoder.
type gpuWriterProbe struct {
	*device.Device
	mu     sync.Mutex
	dec    gpuparse.StreamDecoder
	enc    pqfile.PlainEncoder
	encWhy string
}

func (p *gpuWriterProbe) NewDecoder(cols []pgarrow.Column, mem memory.Allocator) gpuparse.StreamDecoder {
	dec := p.Device.NewDecoder(cols, mem)
	_ = dec.Wait() // the export's own Wait returns this error
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dec = dec
	return dec
}

func (p *gpuWriterProbe) PlainEncoder(c compress.Compression) (pqfile.PlainEncoder, func(), string) {
	enc, closeFn, why := p.Device.PlainEncoder(c)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enc, p.encWhy = enc, why
	return enc, closeFn, why
}

// usedGPU returns why the export did not run on the GPU writer, nil if it did: its decoder
// decoded on the GPU, and its page encoder was the device's and encoded more column batches
// on the GPU than on the CPU. (Slices of a batch whose bitmaps do not start on a byte, where
// a row group ends within a batch, are encoded by the CPU twin; a CUDA error sends a batch
// there too.)
func (p *gpuWriterProbe) usedGPU() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dec == nil || p.dec.Path() != "gpu" {
		return errors.New("the export's decoder did not decode on the GPU")
	}
	enc, ok := p.enc.(*device.PageEncoder)
	if !ok {
		return fmt.Errorf("the export's page encoder is %T, not the device's (%s)", p.enc, p.encWhy)
	}
	gpu, cpu := enc.Counts()
	if gpu == 0 || gpu <= cpu {
		return fmt.Errorf("%d column batches encoded on the GPU (%d with their decoding), %d on the CPU: want most on the GPU",
			gpu, enc.FusedCount(), cpu)
	}
	return nil
}

// textLogger logs text records (slog's TextHandler) to w and to the test's stderr.
func textLogger(w io.Writer) *slog.Logger {
	if w != os.Stderr {
		w = io.MultiWriter(w, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// warningLines returns the lines of text records (textLogger's) of level WARN or above.
func warningLines(logs string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(logs, "\n") {
		if strings.Contains(line, " level=WARN ") || strings.Contains(line, " level=ERROR ") {
			b.WriteString(line)
		}
	}
	return b.String()
}
