package device

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// GPU compression of Parquet pages. arrow-go's Parquet writer compresses each page through the
// codec registered for its compression (compress.RegisterCodec, a process-wide table). This
// package registers, once at init, a zstd codec that hands pages to nvCOMP on the GPU when GPU
// compression is on, and to arrow-go's own zstd codec otherwise: exports that never start the
// GPU write exactly what they wrote before.
//
// Each page is cut into chunks of zstdChunk bytes, each compressed by nvCOMP into one complete
// zstd frame; the page is the concatenation of its frames, a valid zstd stream (RFC 8878 §3)
// that every zstd decoder reads (libzstd's ZSTD_decompress, the Go and Java ones). Pages
// arrive one at a time from each of the export's lanes: a batcher gathers those that arrive
// together into one nvCOMP call (nvCOMP is fast on batches of many chunks, slow on one).

// zstdChunk is the most bytes of one frame: nvcomp.cu's PGPQ_ZSTD_CHUNK, nvCOMP's recommended
// chunk size.
const zstdChunk = 64 << 10

const (
	// zstdBatchBytes bounds the page bytes of one batch (pinned and device memory each, times
	// about 3 with the output and padding, per batcher).
	zstdBatchBytes = 16 << 20
	// zstdBatchChunks bounds the chunks of one batch: every page's last chunk may be short.
	zstdBatchChunks = zstdBatchBytes/zstdChunk + 256
	// zstdBatchers is how many batches may be on the device at once.
	zstdBatchers = 4
	// zstdMinPage: smaller pages are compressed on the CPU, for which they cost less than the
	// round trip to the device.
	zstdMinPage = 32 << 10
	// zstdAlign is the alignment of chunk starts the batch buffers allow for (nvCOMP asks for
	// at most this much; zstdBatch reports its own, no larger).
	zstdAlign = 16
	// zstdLinger is how long a batch waits for more pages after its first (queued pages join
	// at once).
	zstdLinger = 500 * time.Microsecond
)

// zstdCodec is the registered zstd codec: the CPU codec for decoding, streams and the pages
// the GPU does not take; gpu when set.
type zstdCodec struct {
	compress.Codec
	gpu atomic.Pointer[gpuZstd]
}

var zstdDispatch = func() *zstdCodec {
	cpu, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		panic(fmt.Sprintf("arrow-go has no zstd codec: %v", err))
	}
	z := &zstdCodec{Codec: cpu}
	compress.RegisterCodec(compress.Codecs.Zstd, z)
	return z
}()

// Encode compresses src at the default level.
func (z *zstdCodec) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel compresses src on the GPU when GPU compression is on, src is at least
// zstdMinPage bytes and at most a batch, and level is the default (nvCOMP has no levels);
// otherwise, or when the GPU fails, with the CPU codec.
func (z *zstdCodec) EncodeLevel(dst, src []byte, level int) []byte {
	if g := z.gpu.Load(); g != nil && level == compress.DefaultCompressionLevel && len(src) >= zstdMinPage && int64(len(src)) <= g.max {
		if out, err := g.compress(dst, src); err == nil {
			return out
		}
	}
	return z.Codec.EncodeLevel(dst, src, level)
}

// chunkBuffers are a batcher's buffers: the caller puts chunk i (1 to zstdChunk bytes) at
// in[offs[i]:offs[i]+sizes[i]], offs[i] a multiple of align; run writes its frame at
// out[i*slot:] and the frame's size over sizes[i].
type chunkBuffers struct {
	in, out []byte
	offs    []int64
	sizes   []uint64
	slot    int64
	align   int64
}

func (b *chunkBuffers) buffers() *chunkBuffers { return b }

// chunkCompressor compresses chunks 0..n-1 of its buffers into zstd frames: the GPU's batcher
// (zstdBatch) or its CPU twin (cpuChunks), which CI runs.
type chunkCompressor interface {
	buffers() *chunkBuffers
	run(n int) error
}

// cpuChunks is the CPU twin of zstdBatch: the same buffers and contract, each chunk
// compressed into one frame by the Go zstd encoder.
type cpuChunks struct {
	chunkBuffers
	enc *zstd.Encoder
}

func newCPUChunks(maxChunks int, maxBytes int64) *cpuChunks {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err) // only for invalid options
	}
	slot := int64(enc.MaxEncodedSize(zstdChunk))
	return &cpuChunks{enc: enc, chunkBuffers: chunkBuffers{in: make([]byte, maxBytes+int64(maxChunks)*zstdAlign), out: make([]byte, slot*int64(maxChunks)),
		offs: make([]int64, maxChunks+1), sizes: make([]uint64, maxChunks), slot: slot, align: zstdAlign}}
}

func (c *cpuChunks) run(n int) error {
	for i := range n {
		if c.offs[i]%c.align != 0 {
			return fmt.Errorf("chunk %d starts at %d, not a multiple of %d", i, c.offs[i], c.align)
		}
		frame := c.enc.EncodeAll(c.in[c.offs[i]:c.offs[i]+int64(c.sizes[i])], c.out[int64(i)*c.slot:int64(i)*c.slot])
		if int64(len(frame)) > c.slot {
			return fmt.Errorf("chunk %d: %d bytes compressed past its slot of %d", i, len(frame), c.slot)
		}
		c.sizes[i] = uint64(len(frame))
	}
	return nil
}

// gpuZstd compresses pages on the GPU. compress (safe for concurrent use) queues a page; one
// goroutine (gather) gathers the pages that arrive together into batches, which runner
// goroutines, each the only user of its own batcher (buffers and CUDA stream), compress: while
// one batch is on the device the next is gathered, and several run at once.
type gpuZstd struct {
	max     int64         // page bytes per batch
	chunks  int           // chunks per batch
	linger  time.Duration // how long a batch waits for more pages after its first
	reqs    chan *zstdReq
	work    chan []*zstdReq
	log     *slog.Logger
	failed  atomic.Bool // a CUDA failure: every page goes to the CPU from then on
	pages   atomic.Int64
	batches atomic.Int64
	runNS   atomic.Int64 // time in the batchers' run, summed
}

// zstdReq is one page to compress: src in, out (appended to dst) or err back once done closes.
type zstdReq struct {
	src, dst, out []byte
	err           error
	done          chan struct{}
}

var reqPool = sync.Pool{New: func() any { return &zstdReq{done: make(chan struct{}, 1)} }}

// newGPUZstd starts gathering pages into batches of at most maxBytes and maxChunks, and one
// runner per batcher (each holding that much), batches lingering zstdLinger.
func newGPUZstd(batchers []chunkCompressor, maxBytes int64, maxChunks int, log *slog.Logger) *gpuZstd {
	return newGPUZstdLinger(batchers, maxBytes, maxChunks, zstdLinger, log)
}

func newGPUZstdLinger(batchers []chunkCompressor, maxBytes int64, maxChunks int, linger time.Duration, log *slog.Logger) *gpuZstd {
	g := &gpuZstd{max: maxBytes, chunks: maxChunks, linger: linger, reqs: make(chan *zstdReq, 256), work: make(chan []*zstdReq), log: log}
	go g.gather()
	for _, c := range batchers {
		go func() {
			for reqs := range g.work {
				g.run(c, reqs)
			}
		}()
	}
	return g
}

// compress compresses src into dst's storage (a new slice when too small).
func (g *gpuZstd) compress(dst, src []byte) ([]byte, error) {
	if err := g.failedErr(); err != nil {
		return nil, err
	}
	r := reqPool.Get().(*zstdReq)
	r.src, r.dst, r.out, r.err = src, dst, nil, nil
	g.reqs <- r
	<-r.done
	out, err := r.out, r.err
	r.src, r.dst, r.out, r.err = nil, nil, nil, nil
	reqPool.Put(r)
	return out, err
}

// gather makes batches of the pages that arrive together: those already queued, and more for
// up to zstdLinger after the first, within the batch's bounds; a page that does not fit starts
// the next batch. It hands each batch to the first free runner, and pages queue meanwhile.
func (g *gpuZstd) gather() {
	var carry *zstdReq
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first := carry
		carry = nil
		if first == nil {
			first = <-g.reqs
		}
		reqs := []*zstdReq{first}
		bytes, chunks := len(first.src), chunksOf(len(first.src))
		timer.Reset(g.linger)
	gather:
		for {
			select {
			case r := <-g.reqs:
				if int64(bytes+len(r.src)) > g.max || chunks+chunksOf(len(r.src)) > g.chunks {
					carry = r
					break gather
				}
				reqs = append(reqs, r)
				bytes, chunks = bytes+len(r.src), chunks+chunksOf(len(r.src))
			case <-timer.C:
				break gather
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		g.work <- reqs
	}
}

func chunksOf(n int) int { return (n + zstdChunk - 1) / zstdChunk }

// run compresses reqs in one batch of c and answers each.
func (g *gpuZstd) run(c chunkCompressor, reqs []*zstdReq) {
	b := c.buffers()
	pos, k := int64(0), 0
	for _, r := range reqs {
		for off := 0; off < len(r.src); off += zstdChunk {
			end := min(off+zstdChunk, len(r.src))
			pos = (pos + b.align - 1) / b.align * b.align
			b.offs[k], b.sizes[k] = pos, uint64(end-off)
			pos += int64(copy(b.in[pos:], r.src[off:end]))
			k++
		}
	}
	err := g.failedErr()
	if err == nil {
		start := time.Now()
		err = c.run(k)
		g.runNS.Add(int64(time.Since(start)))
		if err != nil {
			if !g.failed.Swap(true) {
				g.log.Warn("GPU compression failed: pages are compressed on the CPU from now on", "err", err)
			}
		}
	}
	k = 0
	for _, r := range reqs {
		if err != nil {
			r.err = err
		} else {
			out := r.dst[:0]
			for off := 0; off < len(r.src); off += zstdChunk {
				slot := int64(k) * b.slot
				out = append(out, b.out[slot:slot+int64(b.sizes[k])]...)
				k++
			}
			r.out = out
		}
		r.done <- struct{}{}
	}
	g.pages.Add(int64(len(reqs)))
	g.batches.Add(1)
}

func (g *gpuZstd) failedErr() error {
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

// openBatchers opens n batchers of lib with the first nvCOMP of nvcompCandidates that opens,
// and returns them with its path, or why none did.
func openBatchers(lib *library, n int) ([]chunkCompressor, string, error) {
	var errs []error
	for _, path := range nvcompCandidates() {
		var out []chunkCompressor
		var err error
		for range n {
			var b *zstdBatch
			if b, err = lib.openZstd(path, zstdBatchChunks, zstdBatchBytes+zstdBatchChunks*zstdAlign); err != nil {
				break
			}
			out = append(out, b)
		}
		if err == nil {
			return out, path, nil
		}
		for _, c := range out {
			c.(*zstdBatch).close()
		}
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}

var gpuZstdOnce sync.Once

// startGPUZstd turns GPU compression on for the process (once; later calls do nothing) with
// lib's batcher and the first nvCOMP found, unless $PGPARQUET_NVCOMP_LIB is "off". Without
// nvCOMP it says why and pages stay on the CPU.
func startGPUZstd(lib *library, log *slog.Logger) {
	gpuZstdOnce.Do(func() {
		if os.Getenv("PGPARQUET_NVCOMP_LIB") == "off" {
			log.Info("GPU compression off ($PGPARQUET_NVCOMP_LIB=off): pages are compressed on the CPU")
			return
		}
		batchers, path, err := openBatchers(lib, zstdBatchers)
		if err != nil {
			log.Info("GPU compression unavailable: zstd pages are compressed on the CPU (install the nvidia-libnvcomp-cu13 wheel or set PGPARQUET_NVCOMP_LIB)", "err", err)
			return
		}
		zstdDispatch.gpu.Store(newGPUZstd(batchers, zstdBatchBytes, zstdBatchChunks, log))
		log.Info("GPU compression on: zstd pages are compressed by nvCOMP", "nvcomp", path)
	})
}
