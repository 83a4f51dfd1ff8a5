package device

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/parquet/compress"
)

// nvCodec is a codec of nvcomp.cu (its PGPQ_* enum).
type nvCodec int32

const (
	nvZstd nvCodec = iota
	nvLZ4
	nvSnappy
	nvDeflate
	nvGzip // nvCOMP 6's gzip members: only TestGPUCodecs uses it, to compare with nvDeflate
)

const (
	// zstdChunk is the most bytes of one zstd frame: the frames of the GPU writer's pages of
	// fixed-width values (pageCodec.EncodeFixedWidthFrames); largeChunk those of its other
	// pages (EncodeLargeFrames), compressed several at once; smallChunk those of pages
	// writers hand one at a time (Encode: arrow-go's writers, which wait for each page).
	// nvCOMP recommends 64 KiB; larger frames compress better but each takes longer. On the
	// H200 (bench/results/gpuhost-h200-2026-12-01-s20*.log; P=16, zstd):
	//   - lineorder 40M (fixed-width values and dictionary indices): 64 KiB frames 0.677 GB of
	//     Parquet, 128 KiB 0.657-0.658 GB, 256 KiB 0.632-0.635 GB; the CPU path's libzstd
	//     0.632-0.636. At 256 KiB the export ran at 1.41-1.58 GB/s against 1.38-1.41 at 128 KiB
	//     (s20b), held to the source limit; the pipeline alone at 3.3-3.4 GB/s against 4.6.
	//   - wide 10M (strings, jsonb, arrays): 256 KiB frames 0.666 GB against 0.670, but the
	//     export ran at 1.12-1.21 GB/s against 1.21-1.35 with 128 KiB in four rounds out of
	//     four (s20f), at a higher peak RSS (0.96-1.03 GB against 0.91-0.96).
	// So fixed-width values take 256 KiB frames, every other page 128 KiB: in one call (s20g,
	// two rounds) lineorder 0.635 GB at 0.84-0.87 of the source limit (128 KiB for all:
	// 0.657 GB at 0.89-0.96; 256 KiB for all: 0.635 GB at 0.82-0.94), wide 0.664 GB at
	// 0.78-0.79 and 0.96-0.98 GB of peak RSS (0.669 GB at 0.76-0.79 and 0.93-0.95; 0.665 GB
	// at 0.73-0.74 and 0.95-0.97); those speeds are within the noise of rounds. arrow-go's writers
	// went from 8.5 to 11.4 s with 128 KiB frames (session 11), and nvCOMP's time per batch
	// follows its frames' size while a writer of single pages waits for each: TestPipelineAlone
	// on wide (whose text, jsonb and array columns arrow-go writes page by page) ran at 1.22
	// GB/s with 32 KiB frames against 1.03 with 64 KiB, 0.673 GB of Parquet against 0.671
	// (bench/results/gpuhost-h200-2026-11-30-r10-h.log).
	zstdChunk  = 256 << 10
	largeChunk = 128 << 10
	smallChunk = 32 << 10
	// pageChunk is the largest page the whole-page codecs (LZ4_RAW, snappy, gzip) send to the
	// GPU, as one chunk: twice arrow-go's default data page (1 MiB), which pages overshoot a
	// little, within nvCOMP's 16 MiB for LZ4 and snappy. Larger pages go to the CPU.
	pageChunk = 2 << 20
	// minPage: smaller pages are compressed on the CPU, for which they cost less than the
	// round trip to the device.
	minPage = 32 << 10
	// batchBytes bounds the page bytes of one batch (three times that in device memory per
	// batcher: input, output slots, packed output; a quarter of it in pinned output to start
	// with, grown by a batch that compresses worse).
	batchBytes = 32 << 20
	// batchers is how many batches of one codec may be on the device at once. nvCOMP takes
	// about as long for a batch of 16 MiB as of 64 (30-35 ms in 128 KiB frames on the H200),
	// so throughput comes from chunks in flight: TestPipelineAlone (lineorder 40M, P=16,
	// bench/results/gpuhost-h200-2026-11-30-r10-d.log) ran at 2.23 GB/s with 2 batchers of
	// 16 MiB, 3.56 with 2 of 32, 3.89 with 2 of 64, 4.60 with 4 of 32, 4.53 with 4 of 64 and
	// 4.48 with 4 of 128.
	batchers = 4
)

// codecSpec is how pages of one Parquet codec go to nvCOMP.
type codecSpec struct {
	name  string // as --compression names it
	codec compress.Compression
	nv    nvCodec
	// chunk is the most bytes of one nvCOMP chunk. split: a page is cut into chunks whose
	// outputs are joined (zstd frames); otherwise a page is one chunk (raw LZ4 blocks, raw
	// snappy and raw deflate cannot be joined), and larger pages go to the CPU.
	chunk int
	split bool
	// small is the frame size of the pages writers hand one at a time (batcher.compress;
	// split codecs): smallChunk unless $PGPARQUET_GPU_ZSTD_BATCH says otherwise.
	small int
	// large is the frame size of EncodeLargeFrames' pages (split codecs; chunk is that of
	// EncodeFixedWidthFrames'): largeChunk unless $PGPARQUET_GPU_ZSTD_BATCH says otherwise.
	large int
	// linger is how long a batch waits for more pages while others are on the device:
	// loadedLinger unless $PGPARQUET_GPU_ZSTD_BATCH says otherwise.
	linger time.Duration
	// levels: the codec has levels, and only the default level goes to the GPU (nvCOMP has
	// none).
	levels      bool
	batchBytes  int64 // see batcher.max
	batchChunks int
	batchers    int
	// optIn: the codec goes to the GPU only when PGPARQUET_GPU_CODECS names it (see
	// codecEnabled).
	optIn bool
	// off, when set, says why the codec never goes to the GPU.
	off string
	// header and trailer frame a page's compressed chunks: gzip's around raw deflate. trailer
	// appends the trailer (trailerBytes) of the page that is the concatenation of parts.
	header       []byte
	trailer      func(dst []byte, parts [][]byte) []byte
	trailerBytes int
	// twin makes the chunk encoder of the CPU twin (cpuChunks), one per twin.
	twin func() chunkEncoder
}

// gzipHeader is the 10-byte member header of RFC 1952: magic, deflate, no flags, no mtime, no
// extra flags, OS unknown (255, as Go's gzip writer).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

// gzipTrailer appends RFC 1952's trailer (gzipTrailerBytes) for the page that is the
// concatenation of parts: its CRC-32 and its length mod 2^32, little endian. Parquet's GZIP
// pages are one gzip member each; the GPU writes the raw deflate stream between header and
// trailer, and the CPU computes the CRC (hash/crc32, several GB/s).
func gzipTrailer(dst []byte, parts [][]byte) []byte {
	crc, n := uint32(0), 0
	for _, p := range parts {
		crc, n = crc32.Update(crc, crc32.IEEETable, p), n+len(p)
	}
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return binary.LittleEndian.AppendUint32(dst, uint32(n))
}

const gzipTrailerBytes = 8

// specs are the codecs GPU compression takes. Brotli is not among them: nvCOMP has none.
var specs = []*codecSpec{
	{name: "zstd", codec: compress.Codecs.Zstd, nv: nvZstd, chunk: zstdChunk, small: smallChunk, large: largeChunk, split: true, levels: true,
		batchBytes: batchBytes, batchChunks: batchBytes/smallChunk + 256, batchers: batchers, twin: zstdTwin},
	{name: "lz4", codec: compress.Codecs.Lz4Raw, nv: nvLZ4, chunk: pageChunk, optIn: true,
		off:        "nvCOMP's LZ4 pages were not read back as LZ4_RAW by arrow-go on the H200 (2026-11-29), even into a zeroed output",
		batchBytes: batchBytes, batchChunks: 32, batchers: batchers, twin: cpuCodecTwin(compress.Codecs.Lz4Raw)},
	{name: "snappy", codec: compress.Codecs.Snappy, nv: nvSnappy, chunk: pageChunk, optIn: true,
		batchBytes: batchBytes, batchChunks: 32, batchers: batchers, twin: cpuCodecTwin(compress.Codecs.Snappy)},
	{name: "gzip", codec: compress.Codecs.Gzip, nv: nvDeflate, chunk: pageChunk, levels: true, optIn: true,
		batchBytes: batchBytes, batchChunks: 32, batchers: batchers, header: gzipHeader, trailer: gzipTrailer, trailerBytes: gzipTrailerBytes, twin: deflateTwin},
}

// zstdBatchEnv overrides, for measurements on a GPU host, the zstd batcher's batch bytes (MiB),
// how many of its batches may be on the device at once, and optionally the frame size of
// fixed-width pages (KiB, zstdChunk), that of pages handed one at a time (KiB, smallChunk),
// how long a batch lingers while others are on the device (µs, loadedLinger) and the frame
// size of the other pages handed several at once (KiB, largeChunk; at most KIB), as
// "MIB,BATCHERS[,KIB[,SMALL_KIB[,LINGER_US[,LARGE_KIB]]]]" (e.g. "32,8" or
// "64,4,64,32,2000,64"); unset, the constants hold. A value out of its bounds is ignored with
// a warning.
const zstdBatchEnv = "PGPARQUET_GPU_ZSTD_BATCH"

func init() {
	v := os.Getenv(zstdBatchEnv)
	if v == "" {
		return
	}
	vals := []int{0, 0, zstdChunk >> 10, smallChunk >> 10, int(loadedLinger / time.Microsecond), 0}
	fields := strings.Split(v, ",")
	ok := len(fields) >= 2 && len(fields) <= len(vals)
	for i, f := range fields {
		if !ok {
			break
		}
		n, err := strconv.Atoi(strings.TrimSpace(f))
		ok = err == nil
		vals[i] = n
	}
	mib, n, kib, small, linger, large := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	if large == 0 {
		large = min(largeChunk>>10, kib)
	}
	pow2 := func(k int) bool { return k >= 16 && k <= 1024 && k&(k-1) == 0 }
	if !ok || mib < 1 || mib > 256 || n < 1 || n > 64 || !pow2(kib) || !pow2(small) || !pow2(large) || small > kib || large > kib ||
		kib<<10 > mib<<20 || linger < 0 || linger > 100000 {
		slog.Warn("ignored: want MIB,BATCHERS[,KIB[,SMALL_KIB[,LINGER_US[,LARGE_KIB]]]] with 1 to 256 MiB, 1 to 64 batchers, frames of a power of two from 16 to 1024 KiB (SMALL_KIB and LARGE_KIB at most KIB) and 0 to 100000 µs", "env", zstdBatchEnv, "value", v)
		return
	}
	z := specs[0]
	z.batchBytes, z.batchers, z.chunk, z.small, z.large = int64(mib)<<20, n, kib<<10, small<<10, large<<10
	z.linger = max(time.Duration(linger)*time.Microsecond, 1) // 0 would mean the default
	z.batchChunks = int(z.batchBytes/int64(z.small)) + 256
}

// zstdTwin compresses a chunk into one frame with cpuZstd at the default level.
func zstdTwin() chunkEncoder {
	return chunkEncoder{encode: func(dst, src []byte) []byte { return cpuZstdInto(dst, src, defaultZstdLevel) }, bound: zstdBound}
}

// cpuCodecTwin compresses a chunk with arrow-go's own codec c: a raw LZ4 block (pierrec/lz4)
// or raw snappy with its length preamble (klauspost/compress/snappy), what nvCOMP writes for
// one chunk. Both write into dst when it holds their bound.
func cpuCodecTwin(c compress.Compression) func() chunkEncoder {
	return func() chunkEncoder {
		cpu := arrowCodec(c)
		return chunkEncoder{encode: cpu.Encode, bound: func(n int) int { return int(cpu.CompressBound(int64(n))) }}
	}
}

// deflateTwin compresses a chunk into a raw deflate stream (compress/flate, default level).
func deflateTwin() chunkEncoder {
	w := &sliceWriter{}
	fw, err := flate.NewWriter(w, flate.DefaultCompression)
	if err != nil {
		panic(err) // only for invalid levels
	}
	return chunkEncoder{
		encode: func(dst, src []byte) []byte {
			w.b = dst[:0]
			fw.Reset(w)
			_, _ = fw.Write(src) // a sliceWriter does not fail
			_ = fw.Close()
			return w.b
		},
		// Stored blocks at worst (5 bytes per 64 KiB), generously.
		bound: func(n int) int { return n + n>>3 + n>>6 + 64 },
	}
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// arrowCodecs are arrow-go's own codecs of specs, kept before this package registers its own
// (at init; read-only after).
var arrowCodecs = map[compress.Compression]compress.Codec{}

// arrowCodec is arrow-go's own codec of c, one of specs'.
func arrowCodec(c compress.Compression) compress.Codec {
	cpu, ok := arrowCodecs[c]
	if !ok {
		panic(fmt.Sprintf("device: %s is not a codec of GPU compression", c))
	}
	return cpu
}

// cpuZstd compresses src into one zstd frame at level (compress.DefaultCompressionLevel:
// defaultZstdLevel) on the CPU: with libzstd where cgo builds it in (zstd_cgo.go), else with
// the Go encoder (zstd_nocgo.go). Given no dst storage, it returns a buffer of the frame's
// size: the row group keeps its compressed pages until it is written, and a buffer of src's
// size held for each (what an encoder appending to nil allocates for src under 1 MiB) was 10
// times the frame on lineorder, 90 of the CPU path's 480 MB of live heap at 16 lanes (2-core
// VM). The frame is then written into a pooled scratch buffer of the bound and copied out.
// Otherwise the frame is in dst's storage when it holds the bound, else in a new buffer.
func cpuZstd(dst, src []byte, level int) []byte {
	if level == compress.DefaultCompressionLevel {
		level = defaultZstdLevel
	}
	if cap(dst) == 0 {
		buf := zstdScratch.Get().(*[]byte)
		defer zstdScratch.Put(buf)
		z := cpuZstdInto((*buf)[:0], src, level)
		if cap(z) > cap(*buf) { // grown past the scratch: z is a buffer of its own
			*buf = z[:0]
		}
		return bytes.Clone(z)
	}
	return cpuZstdInto(dst, src, level)
}

// defaultZstdLevel is the level of "zstd" without one: libzstd's default, DuckDB's and
// arrow-go's (its Go encoder's SpeedDefault, which it maps levels 3 to 5 to).
const defaultZstdLevel = 3

// zstdScratch holds cpuZstd's scratch buffers, each used by one goroutine at a time.
var zstdScratch = sync.Pool{New: func() any { return new([]byte) }}

// pageCodec is a registered codec: arrow-go's own for decoding, streams and the pages the GPU
// does not take (smaller than minPage, larger than the codec's largest, an explicit level,
// GPU compression off or failed; zstd's with encoders of a smaller window, cpuZstd), its GPU
// batcher for the others. It is safe for concurrent use, as arrow-go's writers call it from
// every lane. It decodes with arrow-go's codec (DecodeWithError too); streamingPageCodec adds
// arrow-go's streams where the codec has them.
type pageCodec struct {
	compress.Codec
	spec *codecSpec
	gpu  atomic.Pointer[batcher]
	open sync.Once // opens the batchers, once GPU compression is on
	err  atomic.Pointer[error]
}

type streamingPageCodec struct {
	*pageCodec
	compress.StreamingCodec
}

// pageCodecs are the registered codecs, in specs' order; zstdDispatch is the first.
var pageCodecs = func() []*pageCodec {
	out := make([]*pageCodec, len(specs))
	for i, s := range specs {
		cpu, err := compress.GetCodec(s.codec)
		if err != nil {
			panic(fmt.Sprintf("arrow-go has no %s codec: %v", s.codec, err))
		}
		arrowCodecs[s.codec] = cpu
		out[i] = &pageCodec{Codec: cpu, spec: s}
		if st, ok := cpu.(compress.StreamingCodec); ok {
			compress.RegisterCodec(s.codec, streamingPageCodec{out[i], st})
		} else {
			compress.RegisterCodec(s.codec, out[i])
		}
	}
	return out
}()

var zstdDispatch = pageCodecs[0]

// pageCodecFor is the registered codec of c, nil if GPU compression does not take c.
func pageCodecFor(c compress.Compression) *pageCodec {
	for _, p := range pageCodecs {
		if p.spec.codec == c {
			return p
		}
	}
	return nil
}

// encodeCPU compresses src on the CPU: with cpuZstd for zstd, the codec's own otherwise.
func (c *pageCodec) encodeCPU(dst, src []byte, level int) []byte {
	cpuSlots <- struct{}{}
	defer func() { <-cpuSlots }()
	return c.encodeCPUHeld(dst, src, level)
}

// cpuSlots bounds the pages compressed on the CPU at once to the Ps there were at start. The
// writers compress a row group's pages each on a goroutine of its own (for the GPU's batches),
// so on the CPU path 16 lanes had hundreds of compressions under way, each holding an encoder
// and a page-sized scratch buffer while the scheduler rotated through them: on the H200 host
// (lineorder 40M rows, 16 lanes) the Go heap held up to 912 MB live after a collection, and
// asynchronous preemption took 15% of the CPU. A compression waits for a slot before it takes
// anything.
var cpuSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// encodeCPUHeld is encodeCPU for a caller holding a slot of cpuSlots.
func (c *pageCodec) encodeCPUHeld(dst, src []byte, level int) []byte {
	if c.spec != nil && c.spec.codec == compress.Codecs.Zstd {
		return cpuZstd(dst, src, level)
	}
	return c.Codec.EncodeLevel(dst, src, level)
}

// Encode compresses src at the default level.
func (c *pageCodec) Encode(dst, src []byte) []byte {
	return c.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel compresses src on the GPU when GPU compression is on and takes the page (see
// pageCodec), otherwise, or when the GPU fails, with arrow-go's codec.
func (c *pageCodec) EncodeLevel(dst, src []byte, level int) []byte {
	if g := c.batcherFor(len(src), level); g != nil {
		if out, err := g.compress(dst, src); err == nil {
			return out
		}
	}
	return c.encodeCPU(dst, src, level)
}

// EncodeLargeFrames is Encode of the page that is the concatenation of parts (a page's levels
// and values), for a caller that compresses several pages at once (the GPU writer's
// pqfile.CPUPlain.Compress): zstd pages on the GPU in frames of largeChunk, which compress
// better than the smallChunk frames of Encode at the same throughput when pages queue. The
// device copies each part from where it is; only pages compressed on the CPU are joined first,
// in a scratch buffer. The output is in dst's storage when it holds it, else a new buffer; no
// part is retained.
func (c *pageCodec) EncodeLargeFrames(dst []byte, parts ...[]byte) []byte {
	return c.encodeFrames(dst, c.spec.large, parts)
}

// EncodeFixedWidthFrames is EncodeLargeFrames for a page of fixed-width values: zstd frames
// of zstdChunk (see there).
func (c *pageCodec) EncodeFixedWidthFrames(dst []byte, parts ...[]byte) []byte {
	return c.encodeFrames(dst, c.spec.chunk, parts)
}

// encodeFrames is EncodeLargeFrames in frames of frame bytes (split codecs; the others
// compress a page as one chunk whatever frame says).
func (c *pageCodec) encodeFrames(dst []byte, frame int, parts [][]byte) []byte {
	n, last := 0, []byte(nil)
	for _, p := range parts {
		if len(p) > 0 {
			n, last = n+len(p), p
		}
	}
	if g := c.batcherFor(n, compress.DefaultCompressionLevel); g != nil {
		if out, err := g.compressFrames(dst, frame, parts...); err == nil {
			return out
		}
	}
	if n == len(last) { // one part (or none): nothing to join
		return c.encodeCPU(dst, last, compress.DefaultCompressionLevel)
	}
	cpuSlots <- struct{}{}
	defer func() { <-cpuSlots }()
	buf := joinPool.Get().(*[]byte)
	src := (*buf)[:0]
	for _, p := range parts {
		src = append(src, p...)
	}
	out := c.encodeCPUHeld(dst, src, compress.DefaultCompressionLevel)
	*buf = src
	joinPool.Put(buf)
	return out
}

// joinPool holds the scratch buffers EncodeLargeFrames joins a page's parts in for the CPU.
var joinPool = sync.Pool{New: func() any { return new([]byte) }}

// DecodeWithError decodes with arrow-go's codec, returning its errors (compress.ErrorCodec).
func (c *pageCodec) DecodeWithError(dst, src []byte) ([]byte, error) {
	return compress.Decode(c.Codec, dst, src)
}

// batcherFor is the batcher for a page of n bytes at level, nil when it goes to the CPU.
func (c *pageCodec) batcherFor(n, level int) *batcher {
	if n < minPage || (c.spec.levels && level != compress.DefaultCompressionLevel) {
		return nil
	}
	g := c.gpu.Load()
	if g == nil {
		if c.start() != nil {
			return nil
		}
		g = c.gpu.Load()
	}
	if g == nil || int64(n) > g.maxPage() {
		return nil
	}
	return g
}

// start opens the codec's batchers once GPU compression is on (the first call after that;
// zstd's open with GPU compression), and returns why the codec stays on the CPU.
func (c *pageCodec) start() error {
	st := gpuCompression.Load()
	if st == nil {
		return errNotStarted
	}
	if st.err != nil {
		return st.err
	}
	c.open.Do(func() {
		if c.spec.off != "" {
			err := fmt.Errorf("GPU %s compression is off: %s", c.spec.name, c.spec.off)
			c.err.Store(&err)
			return
		}
		if c.spec.optIn && !codecEnabled(c.spec.name) {
			err := fmt.Errorf("GPU %s compression is off: nvCOMP takes each %s page as one chunk, which measured 0.15-0.21 GB/s per batcher on the H200, below the CPU (%s=%s turns it on)",
				c.spec.name, c.spec.name, gpuCodecsEnv, c.spec.name)
			c.err.Store(&err)
			return
		}
		runners, _, err := openBatchers(st.lib, c.spec, []string{st.path}, c.spec.batchers)
		if err != nil {
			err = fmt.Errorf("open GPU compression: %w", err)
			c.err.Store(&err)
			st.log.Info("GPU compression unavailable for this codec: its pages are compressed on the CPU", "codec", c.spec.name, "err", err)
			return
		}
		c.gpu.Store(newBatcher(c.spec, runners, st.log))
		st.log.Info("GPU compression on: pages are compressed by nvCOMP", "codec", c.spec.name, "nvcomp", st.path)
	})
	if err := c.err.Load(); err != nil {
		return *err
	}
	return nil
}

var errNotStarted = errors.New("the GPU is not in use")

// gpuCodecsEnv names the codecs besides zstd that GPU compression takes (comma-separated:
// lz4, snappy, gzip). Off by default: one page per nvCOMP chunk is slower than the CPU until
// pages are batched by row group (the GPU writer).
const gpuCodecsEnv = "PGPARQUET_GPU_CODECS"

// codecEnabled says whether gpuCodecsEnv names codec name.
func codecEnabled(name string) bool {
	for _, n := range strings.Split(os.Getenv(gpuCodecsEnv), ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// Compression says whether an export that runs on d and writes codec c at level has its pages
// compressed on the GPU, and if not why (for the export's log: "brotli: compressed on the CPU
// (nvCOMP has no brotli)"). It waits for d's start, as Err does, and opens the codec's GPU
// batchers if they are not open yet, so that an export that asks at its start neither waits
// for them at its first page nor misses why they failed. Pages smaller than 32 KiB, and for
// LZ4_RAW, snappy and gzip larger than 2 MiB, are compressed on the CPU in any case.
func (d *Device) Compression(c compress.Compression, level int) (gpu bool, why string) {
	if c == compress.Codecs.Uncompressed {
		return false, "no compression"
	}
	p := pageCodecFor(c)
	if p == nil {
		return false, "nvCOMP has no " + strings.ToLower(c.String())
	}
	if err := d.Err(); err != nil {
		return false, "the GPU is not in use: " + err.Error()
	}
	if p.spec.levels && level != compress.DefaultCompressionLevel {
		return false, "nvCOMP has no levels"
	}
	if err := p.start(); err != nil {
		return false, err.Error()
	}
	return true, ""
}
