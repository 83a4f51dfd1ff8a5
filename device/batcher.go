package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

// GPU compression of Parquet pages. arrow-go's Parquet writer compresses each page through the
// codec registered for its compression (compress.RegisterCodec, a process-wide table). This
// package registers, once at init, a codec for zstd, LZ4_RAW, snappy and gzip (codecs.go) that
// hands pages to a batcher on the GPU when GPU compression is on, and to arrow-go's own codec
// otherwise: exports that never start the GPU write exactly what they wrote before.
//
// Pages arrive one at a time from each of the export's lanes: a batcher gathers those that
// arrive together into one nvCOMP call (nvCOMP is fast on batches of many chunks, slow on
// one). How a page becomes nvCOMP chunks depends on the codec (codecSpec): zstd pages are cut
// into chunks of zstdChunk bytes, each compressed into one complete frame, and the page is the
// concatenation of its frames, a valid zstd stream (RFC 8878 §3) that every zstd decoder reads;
// raw LZ4 blocks, raw snappy and raw deflate cannot be joined, so such a page is one chunk.

const (
	// chunkAlign is the alignment of chunk starts the batch buffers allow for (nvCOMP asks for
	// at most this much; nvBatch reports its own, no larger).
	chunkAlign = 16
	// batchLinger is how long a batch waits for more pages after its first (queued pages join
	// at once) while no batch is on the device.
	batchLinger = 500 * time.Microsecond
	// loadedLinger is how long it waits while other batches are on the device: nvCOMP takes
	// about as long for a full batch as for a small one, so under load fuller batches compress
	// more at once (see codecSpec.linger).
	loadedLinger = 4 * time.Millisecond
)

// chunkBuffers are a batcher's buffers: chunk i (1 to the codec's chunk bytes) is the input's
// bytes offs[i] to offs[i]+sizes[i], offs[i] a multiple of align, and the caller says where the
// input's bytes are (pieces: the pages' own buffers, never gathered on the host first); run
// writes the chunks' compressed bytes into out one after the other, packed (chunk i's start is
// the sum of the sizes before it: only the compressed bytes cross back from the device), and
// chunk i's size over sizes[i].
type chunkBuffers struct {
	in     []byte // the CPU twin's input, which it gathers the pieces into; nil on the GPU
	out    []byte
	pieces []piece
	offs   []int64
	sizes  []uint64
	align  int64
}

// piece is where bytes of a batch's input are: src goes to the input's byte off on. A piece
// lies in one part of one page, and is held by its page's writer until the batch is done.
type piece struct {
	src []byte
	off int64
}

func (b *chunkBuffers) buffers() *chunkBuffers { return b }

// chunkCompressor compresses chunks 0..n-1 of its buffers, each on its own: the GPU's batcher
// (nvBatch) or its CPU twin (cpuChunks), which CI runs.
type chunkCompressor interface {
	buffers() *chunkBuffers
	run(n int) error
}

// chunkEncoder compresses one chunk as nvCOMP does for a codec (a zstd frame, a raw LZ4 block,
// raw snappy, a raw deflate stream): encode writes into dst's storage (len(dst) ==
// bound(len(src)) or more) and returns the compressed bytes; bound is the most bytes it writes
// for n bytes.
type chunkEncoder struct {
	encode func(dst, src []byte) []byte
	bound  func(n int) int
}

// cpuChunks is the CPU twin of nvBatch: the same buffers and contract (output sized as
// nvcomp.cu sizes its device output), each chunk compressed by the codec's chunkEncoder.
type cpuChunks struct {
	chunkBuffers
	enc   chunkEncoder
	chunk int  // most bytes of a chunk
	fixed bool // every batch sized for chunks of chunk bytes (zstd), not for its largest
}

// newCPUChunks makes a twin of an nvBatch of spec's codec for up to maxChunks chunks and
// maxBytes of page bytes.
func newCPUChunks(spec *codecSpec, maxChunks int, maxBytes int64) *cpuChunks {
	c := &cpuChunks{enc: spec.twin(), chunk: spec.chunk, fixed: spec.split}
	inBytes := maxBytes + int64(maxChunks)*chunkAlign
	var outBytes int64
	if c.fixed {
		outBytes = int64(c.enc.bound(c.chunk)) * int64(maxChunks)
	} else {
		for n := 1; n <= maxChunks && inBytes/int64(n) > 0; n++ {
			outBytes = max(outBytes, int64(n)*int64(c.enc.bound(int(min(int64(c.chunk), inBytes/int64(n))))))
		}
	}
	c.chunkBuffers = chunkBuffers{in: make([]byte, inBytes), out: make([]byte, outBytes),
		offs: make([]int64, maxChunks+1), sizes: make([]uint64, maxChunks), align: chunkAlign}
	return c
}

func (c *cpuChunks) run(n int) error {
	for _, p := range c.pieces {
		if p.off < 0 || p.off+int64(len(p.src)) > int64(len(c.in)) {
			return fmt.Errorf("a piece of %d bytes at %d of an input of %d", len(p.src), p.off, len(c.in))
		}
		copy(c.in[p.off:], p.src)
	}
	largest := 0
	for i := range n {
		if c.offs[i]%c.align != 0 || c.sizes[i] < 1 || c.sizes[i] > uint64(c.chunk) {
			return fmt.Errorf("chunk %d: %d bytes at %d", i, c.sizes[i], c.offs[i])
		}
		largest = max(largest, int(c.sizes[i]))
	}
	if c.fixed {
		largest = c.chunk
	}
	slot := int64(c.enc.bound(largest))
	if int64(n)*slot > int64(len(c.out)) {
		return fmt.Errorf("%d chunks of up to %d bytes do not fit the output (%d bytes)", n, largest, len(c.out))
	}
	pos := int64(0) // packed: at most i*slot before chunk i
	for i := range n {
		dst := c.out[pos : pos+slot : pos+slot]
		out := c.enc.encode(dst, c.in[c.offs[i]:c.offs[i]+int64(c.sizes[i])])
		if int64(len(out)) > slot || (len(out) > 0 && &out[0] != &dst[0]) {
			return fmt.Errorf("chunk %d: %d bytes compressed outside its room of %d", i, len(out), slot)
		}
		c.sizes[i] = uint64(len(out))
		pos += int64(len(out))
	}
	return nil
}

// batcher compresses pages of one codec on the GPU. compress (safe for concurrent use) queues
// a page; one goroutine (gather) gathers the pages that arrive together into batches, which
// runner goroutines, each the only user of its own chunkCompressor (buffers and CUDA stream),
// compress: while one batch is on the device the next is gathered, and several run at once.
type batcher struct {
	spec    *codecSpec
	max     int64         // page bytes per batch (split), or pages times the largest (whole pages)
	chunks  int           // chunks per batch
	linger  time.Duration // how long a batch waits for more pages after its first
	loaded  time.Duration // the same while other batches run (busy > 0)
	busy    atomic.Int32  // runners compressing a batch
	reqs    chan *pageReq
	work    chan []*pageReq
	log     *slog.Logger
	failed  atomic.Bool // a CUDA failure: every page goes to the CPU from then on
	pages   atomic.Int64
	batches atomic.Int64
	runNS   atomic.Int64 // time in the batchers' run, summed
}

// pageReq is one page to compress: its bytes the concatenation of parts (n in all), cut into
// frames of chunk bytes (split codecs); out (in dst's storage when it holds the page's
// compressed bytes, else a new buffer of their size) or err back once done closes.
type pageReq struct {
	parts [][]byte // the caller's bytes, in a slice of the request's own (reused with it)
	n     int
	// The part and byte the request's last piece ended at (addPieces), while a batch is laid out.
	lastPart, lastEnd int
	dst, out          []byte
	chunk             int
	err               error
	done              chan struct{}
}

var reqPool = sync.Pool{New: func() any { return &pageReq{done: make(chan struct{}, 1)} }}

// newBatcher starts gathering pages of spec's codec into batches within spec's bounds, and one
// runner per chunkCompressor (each made for those bounds), batches lingering batchLinger, and
// spec.linger (loadedLinger) while other batches are on the device.
func newBatcher(spec *codecSpec, runners []chunkCompressor, log *slog.Logger) *batcher {
	g := newBatcherLinger(spec, runners, spec.batchBytes, spec.batchChunks, batchLinger, log)
	g.loaded = cmp.Or(spec.linger, loadedLinger)
	return g
}

func newBatcherLinger(spec *codecSpec, runners []chunkCompressor, maxBytes int64, maxChunks int, linger time.Duration, log *slog.Logger) *batcher {
	g := &batcher{spec: spec, max: maxBytes, chunks: maxChunks, linger: linger, loaded: linger, reqs: make(chan *pageReq, 256), work: make(chan []*pageReq), log: log}
	go g.gather()
	for _, c := range runners {
		go func() {
			for reqs := range g.work {
				g.busy.Add(1)
				g.run(c, reqs)
				g.busy.Add(-1)
			}
		}()
	}
	return g
}

// maxPage is the largest page the batcher takes.
func (g *batcher) maxPage() int64 {
	if g.spec.split {
		return g.max
	}
	return min(int64(g.spec.chunk), g.max)
}

// compress compresses src (1 to maxPage bytes) into dst's storage (a new slice when too small),
// split codecs in frames of spec.small (smallChunk): a writer waits for its page, and smaller
// frames give the device more to do at once and answer sooner.
func (g *batcher) compress(dst, src []byte) ([]byte, error) {
	return g.compressFrames(dst, min(g.spec.chunk, cmp.Or(g.spec.small, smallChunk)), src)
}

// compressFrames is compress of the page that is the concatenation of parts (1 to maxPage
// bytes in all; the parts are copied into the batch's buffers one after the other, never joined
// first), with frames of chunk bytes (at most spec.chunk; split codecs): larger frames compress
// better, for writers that hand several pages at once. The parts are not retained once it
// returns.
func (g *batcher) compressFrames(dst []byte, chunk int, parts ...[]byte) ([]byte, error) {
	if !g.spec.split || chunk <= 0 || chunk > g.spec.chunk {
		chunk = g.spec.chunk
	}
	if err := g.failedErr(); err != nil {
		return nil, err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 || int64(n) > g.maxPage() {
		return nil, fmt.Errorf("GPU compression: a page of %d bytes (1 to %d)", n, g.maxPage())
	}
	if c := (n + chunk - 1) / chunk; c > g.chunks {
		return nil, fmt.Errorf("GPU compression: a page of %d bytes in %d frames (at most %d)", n, c, g.chunks)
	}
	r := reqPool.Get().(*pageReq)
	r.parts, r.n = append(r.parts[:0], parts...), n
	r.dst, r.out, r.err, r.chunk = dst, nil, nil, chunk
	g.reqs <- r
	<-r.done
	out, err := r.out, r.err
	clear(r.parts)
	r.parts, r.dst, r.out, r.err = r.parts[:0], nil, nil, nil
	reqPool.Put(r)
	return out, err
}

// gather makes batches of the pages that arrive together: those already queued, and more for
// up to linger after the first (loaded while other batches are on the device), within the
// batch's bounds; a page that does not fit starts the next batch. It hands each batch to the
// first free runner, and while every runner is busy the pages that arrive meanwhile still join
// it, up to its bounds: under load batches grow, and nvCOMP, whose time per batch hardly
// depends on how many chunks it holds (about 30 ms for 128 KiB frames on the H200),
// compresses more at once.
//
// The bounds: at most g.chunks chunks, and for split codecs (zstd) at most g.max page bytes;
// for whole-page codecs, pages times the largest page at most g.max, as the device reserves
// each page's output for the batch's largest (nvcomp.cu).
func (g *batcher) gather() {
	var carry *pageReq
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first := carry
		carry = nil
		if first == nil {
			first = <-g.reqs
		}
		reqs := []*pageReq{first}
		bytes, chunks, largest := first.n, first.chunks(), first.n
		// add adds r to the batch if it fits, else keeps it for the next one.
		add := func(r *pageReq) bool {
			n := r.n
			cost := bytes + n
			if !g.spec.split {
				cost = (len(reqs) + 1) * max(largest, n)
			}
			if int64(cost) > g.max || chunks+r.chunks() > g.chunks {
				carry = r
				return false
			}
			reqs = append(reqs, r)
			bytes, chunks, largest = bytes+n, chunks+r.chunks(), max(largest, n)
			return true
		}
		open := true
		linger := g.linger
		if g.busy.Load() > 0 {
			linger = g.loaded
		}
		timer.Reset(linger)
	linger:
		for open {
			select {
			case r := <-g.reqs:
				open = add(r)
			case <-timer.C:
				break linger
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		for open {
			select {
			case g.work <- reqs:
				open = false
				reqs = nil
			case r := <-g.reqs:
				open = add(r)
			}
		}
		if reqs != nil {
			g.work <- reqs
		}
	}
}

// chunks is how many chunks the page is cut into: one for whole-page codecs, whose chunk is
// at least their largest page.
func (r *pageReq) chunks() int { return (r.n + r.chunk - 1) / r.chunk }

// addPieces adds to b the pieces that put the n bytes of the page's parts from part i at byte
// at of it on at the input's byte pos on (n at most what is left), and returns where the next
// byte is. A piece that continues the last one in the same part and at the next input byte
// (the chunks of a page, when no alignment pads them apart) extends it: a page of one part is
// usually one piece.
func (r *pageReq) addPieces(b *chunkBuffers, pos int64, n, i, at int) (int, int) {
	for n > 0 {
		c := min(n, len(r.parts[i])-at)
		if last := len(b.pieces) - 1; last >= 0 && r.lastPart == i && r.lastEnd == at && at > 0 &&
			b.pieces[last].off+int64(len(b.pieces[last].src)) == pos {
			p := &b.pieces[last]
			p.src = r.parts[i][at-len(p.src) : at+c]
		} else {
			b.pieces = append(b.pieces, piece{src: r.parts[i][at : at+c], off: pos})
		}
		pos, n, at = pos+int64(c), n-c, at+c
		r.lastPart, r.lastEnd = i, at
		if at == len(r.parts[i]) {
			i, at = i+1, 0
		}
	}
	return i, at
}

// run compresses reqs in one batch of c and answers each: a page's compressed bytes are copied
// out of the batch's buffers once, into the caller's dst when it holds them, else into a new
// buffer of their size.
func (g *batcher) run(c chunkCompressor, reqs []*pageReq) {
	b := c.buffers()
	pos, k := int64(0), 0
	for _, r := range reqs {
		part, at := 0, 0 // where the next chunk starts in r.parts
		r.lastPart, r.lastEnd = -1, 0
		for off := 0; off < r.n; off += r.chunk {
			size := min(r.chunk, r.n-off)
			pos = (pos + b.align - 1) / b.align * b.align
			b.offs[k], b.sizes[k] = pos, uint64(size)
			part, at = r.addPieces(b, pos, size, part, at)
			pos += int64(size)
			k++
		}
	}
	err := g.failedErr()
	if err == nil {
		start := time.Now()
		trace.WithRegion(context.Background(), "compress batch", func() { err = c.run(k) })
		g.runNS.Add(int64(time.Since(start)))
		if err != nil {
			if !g.failed.Swap(true) {
				g.log.Warn("GPU compression failed: pages are compressed on the CPU from now on", "codec", g.spec.name, "err", err)
			}
		}
	}
	clear(b.pieces) // the pages' buffers are their writers' again; the next batch starts empty
	b.pieces = b.pieces[:0]
	k, at := 0, int64(0) // the next chunk, and where its bytes start in b.out
	for _, r := range reqs {
		if err != nil {
			r.err = err
		} else {
			first, size := k, len(g.spec.header)+g.spec.trailerBytes
			for off := 0; off < r.n; off += r.chunk {
				size += int(b.sizes[k])
				k++
			}
			out := r.dst[:0]
			if cap(out) < size {
				out = make([]byte, 0, size)
			}
			out = append(out, g.spec.header...)
			for i := first; i < k; i++ { // the page's chunks are consecutive, packed
				out = append(out, b.out[at:at+int64(b.sizes[i])]...)
				at += int64(b.sizes[i])
			}
			if g.spec.trailer != nil {
				out = g.spec.trailer(out, r.parts)
			}
			r.out = out
		}
		r.done <- struct{}{}
	}
	g.pages.Add(int64(len(reqs)))
	g.batches.Add(1)
}

func (g *batcher) failedErr() error {
	if g.failed.Load() {
		return errors.New("GPU compression failed earlier")
	}
	return nil
}

// nvcompLibraryName is nvCOMP's library, as the nvidia-libnvcomp-cu13 wheel and the CUDA
// toolkit's packages install it.
const nvcompLibraryName = "libnvcomp.so.6"

// nvcompCandidates lists where to look for nvCOMP, most specific first: $PGPARQUET_NVCOMP_LIB,
// the nvidia-libnvcomp-cu13 wheel in the usual Python package directories, then the loader
// path.
func nvcompCandidates() []string {
	var out []string
	if env := os.Getenv("PGPARQUET_NVCOMP_LIB"); env != "" {
		out = append(out, env)
	}
	home, _ := os.UserHomeDir()
	for _, pattern := range []string{
		"/usr/local/lib/python3*/dist-packages/nvidia/libnvcomp/lib64/" + nvcompLibraryName,
		"/usr/local/lib/python3*/site-packages/nvidia/libnvcomp/lib64/" + nvcompLibraryName,
		"/usr/lib/python3/dist-packages/nvidia/libnvcomp/lib64/" + nvcompLibraryName,
		filepath.Join(home, ".local/lib/python3*/site-packages/nvidia/libnvcomp/lib64/", nvcompLibraryName),
	} {
		matches, _ := filepath.Glob(pattern)
		out = append(out, matches...)
	}
	return append(out, nvcompLibraryName)
}

// openBatchers opens n batchers of spec's codec in lib with the first of paths whose nvCOMP
// opens, and returns them with that path, or why none did.
func openBatchers(lib *library, spec *codecSpec, paths []string, n int) ([]chunkCompressor, string, error) {
	var errs []error
	for _, path := range paths {
		var out []chunkCompressor
		var err error
		for range n {
			var b *nvBatch
			if b, err = lib.openNV(spec.nv, path, spec.batchChunks, int64(spec.chunk), spec.batchBytes+int64(spec.batchChunks)*chunkAlign); err != nil {
				break
			}
			out = append(out, b)
		}
		if err == nil {
			return out, path, nil
		}
		for _, c := range out {
			c.(*nvBatch).close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", spec.name, err))
	}
	return nil, "", errors.Join(errs...)
}

// nvcompState is GPU compression for the process, set once by startGPUCompression: the library
// and nvCOMP's path, or why there is none.
type nvcompState struct {
	lib  *library
	path string
	log  *slog.Logger
	err  error // why pages are compressed on the CPU; nil: GPU compression is on
}

var (
	gpuCompressionOnce sync.Once
	gpuCompression     atomic.Pointer[nvcompState]
)

// startGPUCompression turns GPU compression on for the process (once; later calls do nothing)
// with lib and the first nvCOMP found, unless $PGPARQUET_NVCOMP_LIB is "off". The zstd
// batchers (the default codec) open now, as that finds nvCOMP; the other codecs' open on their
// first page, or when an export asks (Device.Compression). Without nvCOMP it says why and
// pages stay on the CPU.
func startGPUCompression(lib *library, log *slog.Logger) {
	gpuCompressionOnce.Do(func() {
		if os.Getenv("PGPARQUET_NVCOMP_LIB") == "off" {
			gpuCompression.Store(&nvcompState{err: errors.New("GPU compression off ($PGPARQUET_NVCOMP_LIB=off)")})
			log.Info("GPU compression off ($PGPARQUET_NVCOMP_LIB=off): pages are compressed on the CPU")
			return
		}
		z := zstdDispatch
		batchers, path, err := openBatchers(lib, z.spec, nvcompCandidates(), z.spec.batchers)
		if err != nil {
			gpuCompression.Store(&nvcompState{err: fmt.Errorf("no nvCOMP: %w", err)})
			log.Info("GPU compression unavailable: pages are compressed on the CPU (install the nvidia-libnvcomp-cu13 wheel or set PGPARQUET_NVCOMP_LIB)", "err", err)
			return
		}
		// zstd's batcher first: a page that sees GPU compression on finds it opened.
		z.open.Do(func() { z.gpu.Store(newBatcher(z.spec, batchers, log)) })
		gpuCompression.Store(&nvcompState{lib: lib, path: path, log: log})
		log.Info("GPU compression on: zstd pages are compressed by nvCOMP", "nvcomp", path)
	})
}
