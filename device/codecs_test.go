package device

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/readback"
)

// gzipMembers is gzip as nvCOMP 6 writes it itself (whole members, the CRC computed on the
// device). It is not registered: TestGPUCodecs measures it beside the registered gzip (raw
// deflate on the GPU, framed on the CPU), which nvCOMP 5 has too.
var gzipMembers = &codecSpec{name: "gzip-nvcomp", codec: compress.Codecs.Gzip, nv: nvGzip, chunk: pageChunk, levels: true,
	batchBytes: batchBytes, batchChunks: 32, batchers: batchers, twin: deflateTwin}

// pageSizes are the page sizes a batcher of spec is checked with: 1 byte, around its chunks
// (zstd) or up to its largest page (the others).
func pageSizes(spec *codecSpec) []int {
	if spec.split {
		return append([]int{1}, zstdSizes...)
	}
	return []int{1, 100, minPage, 150000, 1 << 20, 1<<20 + 17, spec.chunk - 1, spec.chunk}
}

// TestBatcherCPUTwins runs each codec's batcher (gathering, cutting pages into chunks or
// sending them whole, carrying a page that does not fit to the next batch, joining and framing
// the output) over its CPU twin, and decodes every page with arrow-go's codec for that
// compression, as Parquet readers do.
func TestBatcherCPUTwins(t *testing.T) {
	for _, spec := range specs {
		t.Run(spec.name, func(t *testing.T) {
			maxBytes, maxChunks, pages := int64(6<<20), 120, 8 // small: batches fill and carry pages over (a 3 MiB page is 97 frames of smallChunk)
			if !spec.split {
				maxChunks, pages = 12, 3
			}
			twins := []chunkCompressor{newCPUChunks(spec, maxChunks, maxBytes), newCPUChunks(spec, maxChunks, maxBytes)}
			g := newBatcherLinger(spec, twins, maxBytes, maxChunks, batchLinger, slog.Default())
			in, out := checkBatcher(t, g, pageSizes(spec), pages)
			if g.batches.Load() >= g.pages.Load() {
				t.Errorf("%d pages in %d batches: pages were not gathered", g.pages.Load(), g.batches.Load())
			}
			t.Logf("%d pages in %d batches, %d bytes to %d", g.pages.Load(), g.batches.Load(), in, out)
		})
	}
}

// TestCodecsRegistered: the codec arrow-go's writer finds for each compression GPU compression
// takes is this package's, decodes with errors and streams as arrow-go's does, and without GPU
// compression writes what the CPU writes (cpuZstd for zstd, arrow-go's own codec for the
// others), which arrow-go's codec reads back. Brotli stays arrow-go's.
func TestCodecsRegistered(t *testing.T) {
	src := randomPage(rand.New(rand.NewPCG(1, 2)), 1<<20, 1)
	for _, spec := range specs {
		c, err := compress.GetCodec(spec.codec)
		if err != nil {
			t.Fatal(err)
		}
		cpu := arrowCodec(spec.codec)
		_, cpuStreams := cpu.(compress.StreamingCodec)
		var p *pageCodec
		switch r := c.(type) {
		case *pageCodec:
			p = r
		case streamingPageCodec:
			p = r.pageCodec
		}
		_, streams := c.(compress.StreamingCodec)
		_, errs := c.(compress.ErrorCodec)
		if p != pageCodecFor(spec.codec) || streams != cpuStreams || !errs {
			t.Errorf("%s: codec %T (streams %v, arrow-go's %v; decodes with errors %v), want the dispatcher", spec.name, c, streams, cpuStreams, errs)
			continue
		}
		if p.gpu.Load() != nil {
			continue // a GPU test started GPU compression in this process: pages go to nvCOMP
		}
		got, want := c.EncodeLevel(nil, src, compress.DefaultCompressionLevel), cpu.EncodeLevel(nil, src, compress.DefaultCompressionLevel)
		if spec.codec == compress.Codecs.Zstd {
			want = cpuZstd(nil, src, compress.DefaultCompressionLevel)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: without GPU compression the codec wrote %d bytes, the CPU's %d", spec.name, len(got), len(want))
		}
		if plain, err := compress.Decode(cpu, make([]byte, len(src)), got); err != nil || !bytes.Equal(plain, src) {
			t.Errorf("%s: arrow-go's codec decoded %d bytes of the %d compressed: %v", spec.name, len(plain), len(src), err)
		}
	}
	c, err := compress.GetCodec(compress.Codecs.Brotli)
	switch c.(type) {
	case *pageCodec, streamingPageCodec:
		t.Errorf("brotli codec %T (%v), want arrow-go's", c, err)
	}
}

// TestGzipPages: a gzip page of the batcher is one RFC 1952 member (header, raw deflate, CRC-32
// and length), which Go's gzip reader (checking the CRC) reads back.
func TestGzipPages(t *testing.T) {
	spec := pageCodecFor(compress.Codecs.Gzip).spec
	g := newBatcher(spec, []chunkCompressor{newCPUChunks(spec, spec.batchChunks, spec.batchBytes)}, slog.Default())
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{1, minPage, 1 << 20, pageChunk} {
		src := randomPage(rng, n, n%3)
		page, err := g.compress(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(page, gzipHeader) {
			t.Errorf("%d bytes: header %x", n, page[:10])
		}
		r, err := gzip.NewReader(bytes.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		r.Multistream(false)
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("%d bytes: read %d bytes back, %v", n, len(got), err)
		}
	}
}

// TestParquetReadBack writes, for each codec, a Parquet file whose pages its batcher
// compressed (over the CPU twin, so the page format is the GPU's: zstd pages of concatenated
// frames, one raw LZ4 block, raw snappy, one gzip member of raw deflate), and has arrow-go,
// pyarrow and DuckDB read it back: the same values as the same table written by arrow-go's own
// codec.
func TestParquetReadBack(t *testing.T) {
	ctx := context.Background()
	rec := testRecord(120000)
	defer rec.Release()
	// The values each reader reads from the table written by arrow-go's own codec (the same for
	// every codec: the one written without compression).
	refFile := filepath.Join(t.TempDir(), "ref.parquet")
	writeParquet(t, refFile, rec, compress.Codecs.Uncompressed)
	ref := map[string]*readback.Table{}
	for _, reader := range readback.Readers() {
		want, err := readback.FromParquet(ctx, reader, "id", refFile)
		if err != nil {
			t.Fatal(err)
		}
		ref[reader] = want
	}
	for _, spec := range specs {
		t.Run(spec.name, func(t *testing.T) {
			dir := t.TempDir()
			cpuFile, gpuFile := filepath.Join(dir, "cpu.parquet"), filepath.Join(dir, "twin.parquet")
			writeParquet(t, cpuFile, rec, spec.codec)
			p := pageCodecFor(spec.codec)
			g := newBatcher(spec, []chunkCompressor{newCPUChunks(spec, spec.batchChunks, spec.batchBytes)}, slog.Default())
			p.gpu.Store(g)
			writeParquet(t, gpuFile, rec, spec.codec)
			p.gpu.Store(nil)
			if g.pages.Load() == 0 {
				t.Fatal("no page went through the batcher")
			}
			if want, got := readArrowGo(t, cpuFile), readArrowGo(t, gpuFile); !array.TableEqual(want, got) {
				t.Errorf("arrow-go reads the file differently")
			}
			for _, reader := range readback.Readers() {
				got, err := readback.FromParquet(ctx, reader, "id", gpuFile)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Rows) != int(rec.NumRows()) {
					t.Fatalf("%s read %d rows", reader, len(got.Rows))
				}
				if diff := readback.Diff(ref[reader], got, 10); len(diff) > 0 {
					t.Errorf("%s reads the file differently:\n%s", reader, strings.Join(diff, "\n"))
				}
			}
			t.Logf("%d pages in %d batches", g.pages.Load(), g.batches.Load())
		})
	}
}

// writeParquet writes rec to path with codec, in row groups of 40000 rows.
func writeParquet(t testing.TB, path string, rec arrow.RecordBatch, codec compress.Compression) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithMaxRowGroupLength(40000))
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// readArrowGo reads path with arrow-go (released when the test ends).
func readArrowGo(t testing.TB, path string) arrow.Table {
	t.Helper()
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// TestDeviceCompression: what an export is told about its codec when the GPU is off, and for
// codecs nvCOMP does not have.
func TestDeviceCompression(t *testing.T) {
	d := Start(ModeOff, "", nil)
	for _, tc := range []struct {
		codec compress.Compression
		level int
		why   string
	}{
		{compress.Codecs.Brotli, compress.DefaultCompressionLevel, "nvCOMP has no brotli"},
		{compress.Codecs.Uncompressed, compress.DefaultCompressionLevel, "no compression"},
		{compress.Codecs.Zstd, compress.DefaultCompressionLevel, "the GPU is not in use: --gpu off"},
		{compress.Codecs.Snappy, compress.DefaultCompressionLevel, "the GPU is not in use: --gpu off"},
	} {
		if gpu, why := d.Compression(tc.codec, tc.level); gpu || why != tc.why {
			t.Errorf("%s: gpu %v, %q; want the CPU, %q", tc.codec, gpu, why, tc.why)
		}
	}
}

// TestGPUParquetFiles has arrow-go, pyarrow and DuckDB read the Parquet files TestGPUCodecs
// wrote on a GPU host (gpu-<codec>.parquet in $PGPARQUET_GPU_PARQUET_DIR, brought back here:
// the GPU host has no pyarrow): each must hold the values of the same table written by
// arrow-go's own codec. It skips when the directory is not set.
func TestGPUParquetFiles(t *testing.T) {
	dir := os.Getenv("PGPARQUET_GPU_PARQUET_DIR")
	if dir == "" {
		t.Skip("PGPARQUET_GPU_PARQUET_DIR names the files TestGPUCodecs wrote on a GPU host")
	}
	ctx := context.Background()
	rec := testRecord(120000)
	defer rec.Release()
	for _, spec := range append(specs[:len(specs):len(specs)], gzipMembers) {
		t.Run(spec.name, func(t *testing.T) {
			gpuFile := filepath.Join(dir, "gpu-"+spec.name+".parquet")
			if _, err := os.Stat(gpuFile); err != nil && spec.off != "" {
				t.Skip(spec.off)
			}
			if _, err := os.Stat(gpuFile); err != nil {
				if spec == gzipMembers {
					t.Skip("no file of nvCOMP 6's gzip")
				}
				t.Fatal(err)
			}
			rdr, err := file.OpenParquetFile(gpuFile, false)
			if err != nil {
				t.Fatal(err)
			}
			for rg := range rdr.NumRowGroups() {
				for c := range rdr.MetaData().Schema.NumColumns() {
					cc, err := rdr.MetaData().RowGroup(rg).ColumnChunk(c)
					if err != nil || cc.Compression() != spec.codec {
						t.Fatalf("row group %d column %d: %v, %v; want %s", rg, c, cc.Compression(), err, spec.codec)
					}
				}
			}
			rdr.Close()
			cpuFile := filepath.Join(t.TempDir(), "ref.parquet")
			writeParquet(t, cpuFile, rec, compress.Codecs.Uncompressed)
			if !array.TableEqual(readArrowGo(t, cpuFile), readArrowGo(t, gpuFile)) {
				t.Error("arrow-go reads the GPU-compressed file differently")
			}
			for _, reader := range readback.Readers() {
				want, err := readback.FromParquet(ctx, reader, "id", cpuFile)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readback.FromParquet(ctx, reader, "id", gpuFile)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Rows) != int(rec.NumRows()) {
					t.Fatalf("%s read %d rows", reader, len(got.Rows))
				}
				if diff := readback.Diff(want, got, 10); len(diff) > 0 {
					t.Errorf("%s reads the GPU-compressed file differently:\n%s", reader, strings.Join(diff, "\n"))
				}
			}
		})
	}
}

// TestCPUZstd: pages compressed on the CPU with the registered zstd codec (cpuZstd) are one
// frame each that arrow-go's decoder (the Go one, not the library that wrote it) reads back,
// at the default level (which is level 3) and explicit ones, from empty pages to pages larger
// than the 1 MiB pages are cut at; a buffer of the frame's size without dst storage, in dst's
// storage when it holds the bound.
func TestCPUZstd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	ac := arrowCodec(compress.Codecs.Zstd)
	for _, level := range []int{compress.DefaultCompressionLevel, 1, 3, 9, 19} {
		for _, n := range []int{0, 1, 100, 64 << 10, 1 << 20, 1<<20 + 1, 3 << 20} {
			src := randomPage(rng, n, n%3)
			got := cpuZstd(nil, src, level)
			if cap(got) > 2*len(got)+64 || len(got) > zstdBound(n) { // bytes.Clone rounds up to a size class
				t.Errorf("level %d, %d bytes: a frame of %d bytes in a buffer of %d (bound %d)", level, n, len(got), cap(got), zstdBound(n))
			}
			if plain, err := compress.Decode(ac, make([]byte, n), got); err != nil || !bytes.Equal(plain, src) {
				t.Errorf("level %d, %d bytes: decoded %d bytes, %v", level, n, len(plain), err)
			}
			dst := make([]byte, 0, zstdBound(n))
			if into := cpuZstd(dst, src, level); len(into) == 0 || &into[:1][0] != &dst[:1][0] || !bytes.Equal(into, got) {
				t.Errorf("level %d, %d bytes: given room, %d bytes not in dst's storage, or not the same frame", level, n, len(into))
			}
			if level == compress.DefaultCompressionLevel {
				if l3 := cpuZstd(nil, src, 3); !bytes.Equal(got, l3) {
					t.Errorf("%d bytes: the default level wrote %d bytes, level 3 %d", n, len(got), len(l3))
				}
			}
		}
	}
}
