package export_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestGPUWriterRandomTables is the issue's "fresh random tables of every GPU kind through both
// paths" on the GPU host, in two halves as TestGPUWriterStatisticsAreTrue (the GPU host has
// neither Go nor Python; bench/gpuhost-s17b.sh runs the first half there):
//
//   - With $PGPARQUET_GPU_RANDOM_DSN and $PGPARQUET_GPU_RANDOM_OUT, it makes a random table
//     (randomTable, from a fresh seed it writes to OUT/seed) and exports it with each of
//     randomCodecs (snappy and gzip on the GPU too: PGPARQUET_GPU_CODECS) through the GPU
//     writer into OUT/CODEC/gpu, failing unless the decoder ran on the GPU and the device's
//     encoder encoded most column batches, or on any warning, and through the CPU path (the
//     CPU decoder, the GPU writer's CPU twins) into OUT/CODEC/cpu.
//   - With $PGPARQUET_GPU_RANDOM_DIR (such an OUT), it makes the same table here from the seed
//     and checks each export: every statistic true, pyarrow and DuckDB read PostgreSQL's
//     values from both, and both have files of row groups of the same rows.
func TestGPUWriterRandomTables(t *testing.T) {
	gpuHalves(t, "RANDOM", produceGPURandom, checkGPURandom)
}

// gpuRandomRows is how many rows the random table is made with (a third is deleted).
const gpuRandomRows = 6000

func produceGPURandom(t *testing.T, dsn, out string) {
	ctx := context.Background()
	t.Setenv("PGPARQUET_PAGE_WRITER", "")
	t.Setenv("PGPARQUET_GPU_CODECS", "snappy,gzip")
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "seed"), []byte(strconv.FormatUint(seed, 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, "DROP TABLE IF EXISTS rt")
	rows := randomTable{seed: seed, rows: gpuRandomRows}.create(t, conn, "rt")
	gpu := startGPU(t)
	cpu := device.Start(device.ModeOff, "", textLogger(os.Stderr))
	for _, codec := range randomCodecs {
		t.Run(codec, func(t *testing.T) {
			opts := randomExport("rt", filepath.Join(out, codec, "gpu"), codec)
			opts.ConnConfig = config(t, dsn)
			if res := gpu.run(t, opts); res.Rows != int64(rows) {
				t.Fatalf("exported %d rows, want %d", res.Rows, rows)
			}
			opts = randomExport("rt", filepath.Join(out, codec, "cpu"), codec)
			opts.ConnConfig, opts.Engine, opts.Logger = config(t, dsn), cpu, textLogger(os.Stderr)
			if _, err := export.Run(ctx, opts); err != nil {
				t.Fatalf("the CPU path's export: %v", err)
			}
		})
	}
}

func checkGPURandom(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "seed"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s/seed: %v", dir, err)
	}
	t.Logf("seed %d", seed)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	rows := randomTable{seed: seed, rows: gpuRandomRows}.create(t, conn, "rt")
	want := postgresValues(t, conn, "rt")
	for _, codec := range randomCodecs {
		t.Run(codec, func(t *testing.T) {
			for _, path := range []string{"gpu", "cpu"} {
				sub := filepath.Join(dir, codec, path)
				if m := readManifest(t, sub); m.Rows != int64(rows) {
					t.Fatalf("%s: manifest says %d rows, want %d", sub, m.Rows, rows)
				}
				checked := checkStatistics(t, sub)
				t.Logf("%s: statistics compared: %+v", path, checked)
				if checked.Chunks == 0 || checked.ChunkMinMax < checked.Chunks/3 {
					t.Errorf("%s: compared %+v: want a third of the chunks or more with min and max", path, checked)
				}
				checkReaders(t, want, sub, "", 20)
			}
			sameRowGroups(t, filepath.Join(dir, codec, "gpu"), filepath.Join(dir, codec, "cpu"))
		})
	}
}
