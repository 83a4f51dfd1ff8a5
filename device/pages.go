package device

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/pqfile"
)

// PageEncoder is the GPU writer's encoder of fixed-width columns: for each batch of decoded
// columns it encodes on the GPU (encode.cu) the fragments of their Parquet data pages (the
// non-NULL values compacted, PLAIN, and exact statistics) that pqfile.PlainColumn gathers
// into pages; the CPU twin pqfile.PlainFragment writes the same bytes (make test-gpu). It does
// so once the Device's GPU is ready and its library has the page encoder, and on the CPU
// before. A CUDA error in a batch sends that batch to the CPU twin, with a warning, and appends
// nothing twice.
//
// A PageEncoder is safe for concurrent use: each call takes one of its GPU encoders (own
// CUDA stream, own buffers) or makes one. Close frees them; no call may run after it.
type PageEncoder struct {
	dev      *Device
	cpu      *pqfile.CPUPlain
	mu       sync.Mutex
	idle     []*encoder
	closed   bool
	gpuOff   atomic.Bool  // the library has no page encoder, or it failed to open
	weak     bool         // tests: every string value of one length shares a hash in Uniques
	gpuPages atomic.Int64 // columns encoded on the GPU
	cpuPages atomic.Int64 // columns encoded by the CPU twin
	fused    atomic.Int64 // columns whose fragments the decoder computed (fusedResults)
	fusing   bool         // counted among the Device's fusedResults users
	// pinned holds the page buffers of the columns it encodes (PageAllocator), which the
	// device copies fragments into, and the slabs of chunks (ChunkPool); nil without the GPU.
	pinned *pinnedAllocator
	chunks *pinnedChunks
}

// fusedEnv, set to "off", keeps decoders from computing the page encoder's fragments and
// groupings with their decoding (fusedResults), for measurements.
const fusedEnv = "PGPARQUET_GPU_FUSED"

// PageEncoder returns an encoder of pages compressed with c (its registered codec, so GPU
// compression follows Compression's decision).
func (d *Device) PageEncoder(c compress.Compression) (*PageEncoder, error) {
	cpu, err := pqfile.NewCPUPlain(c)
	if err != nil {
		return nil, fmt.Errorf("page encoder: %w", err)
	}
	p := &PageEncoder{dev: d, cpu: cpu}
	// While it is open, the Device's decoders compute its fragments and groupings on the
	// device with each chunk's decoding (fusedResults): Append and Uniques take them, unless
	// $PGPARQUET_GPU_FUSED is off (for measurements).
	if p.fusing = os.Getenv(fusedEnv) != "off"; p.fusing {
		d.fused.users.Add(1)
	}
	if d.Err() == nil && d.lib != nil {
		p.pinned = newPinnedAllocator(d.lib, func(err error) { d.log.Warn("pinned memory for Parquet pages", "error", err.Error()) })
		p.pinned.fine = true
		d.track("Parquet page buffers", p.pinned)
		p.chunks = &pinnedChunks{alloc: p.pinned.Allocate}
	}
	return p, nil
}

// PageAllocator returns the allocator of the page buffers of the columns p encodes
// (pqfile.PlainColumn.SetAllocator): pinned memory, which the device copies each batch's
// fragment into and the GPU compression reads from, both at full PCIe speed, or nil (Go
// memory) without the GPU. Its blocks are freed by Close: the columns must be done with them by then.
func (p *PageEncoder) PageAllocator() memory.Allocator {
	if p.pinned == nil {
		return nil
	}
	return p.pinned
}

// ChunkPool returns the pool of the chunks that the string columns written PLAIN gather their
// pages in (pqfile.ByteColumn.SetChunkPool): pinned memory, which the GPU's compression copies
// the pages from by DMA (from Go memory the driver stages each copy through a pinned buffer of
// its own with the CPU: 0.55 of wide's 6.9 CPU-s on the H200, s23b), or nil (Go memory)
// without the GPU. Its chunks are freed by Close: the columns must be done with them by then.
func (p *PageEncoder) ChunkPool() pqfile.ChunkPool {
	if p.chunks == nil {
		return nil
	}
	return p.chunks
}

// chunkSlab is how much pinned memory pinnedChunks takes at once: 16 chunks per cudaMallocHost
// call rather than one.
const chunkSlab = 16 * pqfile.ChunkBytes

// pinnedChunks is a pqfile.ChunkPool carved from slabs of chunkSlab bytes of alloc (pinned
// memory of the PageEncoder's allocator, whose Close frees the slabs); chunks given back are
// handed out again, and the slabs stay until then. It is safe for concurrent use (every lane's
// columns share it).
type pinnedChunks struct {
	alloc func(size int) []byte
	mu    sync.Mutex
	free  [][]byte
}

func (c *pinnedChunks) Get() []byte {
	c.mu.Lock()
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free = c.free[:n-1]
		c.mu.Unlock()
		return b
	}
	c.mu.Unlock()
	// Pinning takes about 0.5 ms per MiB (s23b): the other lanes go on meanwhile.
	slab := c.alloc(chunkSlab)
	c.mu.Lock()
	defer c.mu.Unlock()
	for off := pqfile.ChunkBytes; off+pqfile.ChunkBytes <= len(slab); off += pqfile.ChunkBytes {
		c.free = append(c.free, slab[off:off:off+pqfile.ChunkBytes])
	}
	return slab[:0:pqfile.ChunkBytes]
}

func (c *pinnedChunks) Put(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free = append(c.free, b[:0:pqfile.ChunkBytes])
}

var _ pqfile.PlainEncoder = (*PageEncoder)(nil)

// Counts says how many column batches were encoded on the GPU (with their decoding, or
// apart) and by the CPU twin.
func (p *PageEncoder) Counts() (gpu, cpu int64) {
	return p.gpuPages.Load() + p.fused.Load(), p.cpuPages.Load()
}

// FusedCount says how many column batches had their fragments computed with their decoding.
func (p *PageEncoder) FusedCount() int64 { return p.fused.Load() }

// Append implements pqfile.PlainEncoder: cols are of types pqfile.EncodesPlain accepts. The
// columns the decoder already encoded (fusedResults) are appended from its fragments; the rest
// are encoded here.
func (p *PageEncoder) Append(cols []arrow.Array, dst []*pqfile.PlainColumn) error {
	if p.dev.fused.active() {
		var rest []arrow.Array
		var restDst []*pqfile.PlainColumn
		for i, a := range cols {
			f := p.dev.fused.lookup(a, fusedPlain)
			if f == nil {
				rest, restDst = append(rest, a), append(restDst, dst[i])
				continue
			}
			var valid []byte
			if a.NullN() > 0 {
				valid = a.NullBitmapBytes()
			}
			if err := dst[i].Append(f.frag, valid, a.Data().Offset(), a.Len(), f.stats); err != nil {
				return err
			}
			p.fused.Add(1)
		}
		if len(rest) == 0 {
			return nil
		}
		cols, dst = rest, restDst
	}
	if onGPU(cols) {
		if e := p.take(); e != nil {
			err := p.appendGPU(e, cols, dst)
			p.give(e)
			if err == nil {
				p.gpuPages.Add(int64(len(cols)))
				return nil
			}
			p.dev.log.Warn("CUDA error: this batch's pages are encoded on the CPU", "error", err.Error())
		}
	}
	p.cpuPages.Add(int64(len(cols)))
	return p.cpu.Append(cols, dst)
}

// onGPU says whether the GPU encoder takes cols: arrays whose validity bitmaps start on a
// byte (slices of a batch at an offset that is not a multiple of 8 are encoded on the CPU).
func onGPU(cols []arrow.Array) bool {
	for _, a := range cols {
		if !pqfile.EncodesPlain(a.DataType()) || a.Data().Offset()%8 != 0 {
			return false
		}
	}
	return true
}

// take returns an idle GPU encoder, a new one, or nil when pages are encoded on the CPU (the
// GPU not ready yet, not in use, or without a page encoder).
func (p *PageEncoder) take() *encoder {
	if p.gpuOff.Load() {
		return nil
	}
	select {
	case <-p.dev.done:
	default:
		return nil // the GPU is still starting: these pages are encoded on the CPU
	}
	if p.dev.lib == nil {
		p.gpuOff.Store(true)
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return e
	}
	p.mu.Unlock()
	e, err := p.dev.lib.openEncoder()
	if err != nil {
		if !p.gpuOff.Swap(true) {
			p.dev.log.Info("Parquet pages are encoded on the CPU", "reason", err.Error())
		}
		return nil
	}
	return e
}

func (p *PageEncoder) give(e *encoder) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		e.close()
		return
	}
	p.idle = append(p.idle, e)
}

// Close frees the GPU encoders.
func (p *PageEncoder) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed && p.fusing && p.dev.fused.users.Add(-1) == 0 {
		p.dev.fused.plainBytes.Clear() // the next export's columns are other columns
	}
	p.closed = true
	for _, e := range p.idle {
		e.close()
	}
	p.idle = nil
	if p.pinned != nil {
		p.pinned.freeAll()
	}
}

// appendGPU encodes cols' fragments with e and appends them to dst once every column is
// encoded (a failure appends nothing). Each fragment goes straight into the room its column
// reserves after its page's values (pinned memory, PageAllocator: no copy on the CPU).
func (p *PageEncoder) appendGPU(e *encoder, cols []arrow.Array, dst []*pqfile.PlainColumn) error {
	in := make([]encCol, len(cols))
	for i, a := range cols {
		// One page as long as the batch, without levels: the non-NULL values compacted.
		c, err := encColOf(a, max(a.Len(), 1))
		if err != nil {
			return err
		}
		c.out = dst[i].Reserve(max(c.n*c.plainWidth(), 1))
		in[i] = c
	}
	pages, _, err := e.run(in)
	if err != nil {
		return err
	}
	for i := range cols {
		if len(pages[i]) != 1 {
			return fmt.Errorf("encode: %d fragments of one batch", len(pages[i]))
		}
	}
	for i, a := range cols {
		pg := pages[i][0]
		st := metadata.EncodedStatistics{HasNullCount: true, NullCount: pg.Nulls}
		if pg.HasStats {
			st.HasMin, st.HasMax, st.Min, st.Max = true, true, pg.Min, pg.Max // copied by Append
		}
		var valid []byte
		if a.NullN() > 0 {
			valid = a.NullBitmapBytes()
		}
		if err := dst[i].AppendReserved(len(pg.Data), valid, a.Data().Offset(), a.Len(), st); err != nil {
			return err
		}
	}
	return nil
}

// encColType is how the GPU encoder reads and writes values of type t (kind, width and
// outWidth set), or false for a type pqfile.EncodesPlain does not take.
func encColType(t arrow.DataType) (encCol, bool) {
	if !pqfile.EncodesPlain(t) {
		return encCol{}, false
	}
	c := encCol{width: t.(arrow.FixedWidthDataType).Bytes()}
	switch t := t.(type) {
	case *arrow.Float32Type, *arrow.Float64Type:
		c.kind = kindFloat
	case *arrow.Decimal128Type:
		c.kind, c.outWidth = kindDecimal, int(pqarrow.DecimalSize(t.Precision))
	}
	return c, true
}

// encColOf describes a for the GPU encoder.
func encColOf(a arrow.Array, pageRows int) (encCol, error) {
	c, ok := encColType(a.DataType())
	if !ok {
		return encCol{}, fmt.Errorf("encode: %s has no PLAIN encoder on the GPU", a.DataType())
	}
	d := a.Data()
	off := d.Offset()
	if off%8 != 0 {
		return encCol{}, fmt.Errorf("encode: an array at offset %d (not a multiple of 8)", off)
	}
	width := c.width
	c.n, c.pageRows = a.Len(), pageRows
	if b := d.Buffers()[1]; b != nil {
		c.values = b.Bytes()[off*width:]
	}
	if b := d.Buffers()[0]; b != nil && a.NullN() > 0 {
		c.valid = b.Bytes()[off/8:]
	}
	return c, nil
}

// PlainEncoder waits for the GPU's start and, when the GPU is in use and its library has the
// page encoder, returns a PageEncoder for compression c (as a pqfile.PlainEncoder) and its
// Close; otherwise nil and why not (an export then lets arrow-go encode every column).
func (d *Device) PlainEncoder(c compress.Compression) (enc pqfile.PlainEncoder, closeFn func(), why string) {
	if err := d.Err(); err != nil {
		return nil, nil, "the GPU is not in use: " + err.Error()
	}
	if !d.lib.hasEncoder() {
		return nil, nil, "the CUDA library has no page encoder: rebuild it (make cuda) with encode.cu"
	}
	p, err := d.PageEncoder(c)
	if err != nil {
		return nil, nil, err.Error()
	}
	return p, p.Close, ""
}

// encCol is one column of encoder.run: n values of width bytes as Arrow holds them (integers
// of 2, 4 or 8 bytes, int16 written as INT32; floats of 4 or 8; decimal128, written as
// FIXED_LEN_BYTE_ARRAY of outWidth bytes), with their validity bitmap (nil: no NULLs), cut
// into pages of pageRows rows.
//
// out, when set, is where its one page goes (a required column's fragment: n PLAIN values, no
// levels): pqfile.PlainColumn.Reserve's room in a page buffer, pinned memory of
// pinnedAllocator's, which the device copies into at full speed.
type encCol struct {
	values, valid []byte
	out           []byte
	n, width      int
	kind          encKind
	outWidth      int // decimals: the FIXED_LEN_BYTE_ARRAY size
	nullable      bool
	pageRows      int
}

// encKind is how encode.cu reads and writes a column's values.
type encKind int32

const (
	kindInt     encKind = 0 // integers, dates, times, timestamps
	kindFloat   encKind = 1
	kindDecimal encKind = 2 // decimal128 as FIXED_LEN_BYTE_ARRAY
)

// widthsOK says whether the column's widths are ones encode.cu takes.
func (c encCol) widthsOK() bool {
	switch c.kind {
	case kindInt:
		return c.width == 2 || c.width == 4 || c.width == 8
	case kindFloat:
		return c.width == 4 || c.width == 8
	case kindDecimal:
		return c.width == 16 && c.outWidth >= 1 && c.outWidth <= 16
	}
	return false
}

// plainIsArrow says whether the column's PLAIN values are its Arrow values byte for byte (not
// an int16, widened, nor a decimal, big-endian).
func (c encCol) plainIsArrow() bool { return c.kind != kindDecimal && c.width != 2 }

// plainWidth is the bytes of one PLAIN value.
func (c encCol) plainWidth() int {
	switch {
	case c.kind == kindDecimal:
		return c.outWidth
	case c.width == 2:
		return 4
	}
	return c.width
}

// PlainBytes says that a file writes field i, a string or binary column, PLAIN
// (pqfile.ByteColumn): from then on the decoders encode that column's values so on the device,
// with each chunk's decoding, instead of grouping them (AppendBytes takes them).
func (p *PageEncoder) PlainBytes(field int) {
	if p.fusing {
		p.dev.fused.plainBytes.Store(field, struct{}{})
	}
}

// AppendBytes appends a, a string or binary column of a batch, to c from the PLAIN fragment and
// statistics its decoder computed on the device (PlainBytes), and says whether it did; false:
// the caller appends it itself (c.Append).
func (p *PageEncoder) AppendBytes(a arrow.Array, c *pqfile.ByteColumn) (bool, error) {
	f := p.dev.fused.lookup(a, fusedBytes)
	if f == nil {
		return false, nil
	}
	var lo, hi []byte
	if f.minRow >= 0 {
		values := a
		if e, ok := a.(array.ExtensionArray); ok { // JSON: strings
			values = e.Storage()
		}
		switch a := values.(type) {
		case *array.String: // the values' bytes, not copies (AppendFragment copies them)
			x, y := a.Value(int(f.minRow)), a.Value(int(f.maxRow))
			lo, hi = unsafe.Slice(unsafe.StringData(x), len(x)), unsafe.Slice(unsafe.StringData(y), len(y))
		case *array.Binary:
			lo, hi = a.Value(int(f.minRow)), a.Value(int(f.maxRow))
		default:
			return false, nil
		}
	}
	if err := c.AppendFragment(a, f.frag, lo, hi); err != nil {
		return true, err
	}
	p.fused.Add(1)
	return true, nil
}

// Uniques groups the rows of string or binary columns (a batch's) by value on the GPU, for the
// lanes' dictionaries: ids[i][row] is the row's group in column i (-1 for NULL) and
// firsts[i][g] the first row of group g, groups in no particular order; the caller reads them,
// and only until it releases the batch (a grouping fused with the decoding lies in the
// batch's memory). Values are hashed on the device and each row compared byte for byte with
// its group's first row, so two values are never merged. ids[i] is nil where the caller must group column i itself: before the
// GPU is ready, without pgpq_uniq_run, for a slice whose bitmap does not start on a byte, on
// a CUDA error (with a warning), or when two values shared a hash.
func (p *PageEncoder) Uniques(cols []arrow.Array) (ids, firsts [][]int32) {
	ids, firsts = make([][]int32, len(cols)), make([][]int32, len(cols))
	var in []uniqCol
	var at []int
	for i, a := range cols {
		if f := p.dev.fused.lookup(a, fusedUniq); f != nil {
			// Grouped with its decoding; a collision leaves the column to the caller.
			if !f.collided {
				ids[i], firsts[i] = f.ids, f.firsts
			}
			continue
		}
		var offs []int32
		switch a := a.(type) {
		case *array.String:
			offs = a.ValueOffsets()
		case *array.Binary:
			offs = a.ValueOffsets()
		default:
			continue
		}
		off := a.Data().Offset()
		c := uniqCol{offsets: offs, n: a.Len()}
		if b := a.Data().Buffers()[2]; b != nil {
			c.data = b.Bytes()
		}
		if a.NullN() > 0 {
			if off%8 != 0 {
				continue
			}
			c.valid = a.NullBitmapBytes()[off/8:]
		}
		in, at = append(in, c), append(at, i)
	}
	if len(in) == 0 {
		return ids, firsts
	}
	e := p.take() // the GPU is ready (dev.lib set) when it returns one
	if e == nil {
		return ids, firsts
	}
	if !p.dev.lib.hasUniques() {
		p.give(e)
		return ids, firsts
	}
	r, f, err := e.uniques(in, p.weak)
	p.give(e)
	if err != nil {
		p.dev.log.Warn("CUDA error: this batch's dictionary columns are hashed on the CPU", "error", err.Error())
		return ids, firsts
	}
	for k, i := range at {
		ids[i], firsts[i] = r[k], f[k]
	}
	return ids, firsts
}

// plainPage is one page of a fixed-width column as the GPU encoded it (encode.cu): its
// uncompressed bytes (definition levels if asked for, then the non-NULL values PLAIN), its
// rows, NULLs, and the min and max of its values (PLAIN) unless it has none.
type plainPage struct {
	Data     []byte
	Rows     int
	Nulls    int64
	HasStats bool
	Min, Max []byte
}

// groupsOf numbers the groups of n rows whose first rows are first (-1: NULL) in the order
// of their first rows: ids[row] is the row's group (-1 for NULL), firsts[g] group g's first
// row. A first row after its row, or not its own first row, is an error.
func groupsOf(first []int32, n int) (ids, firsts []int32, err error) {
	ids = make([]int32, n)
	for row, f := range first {
		switch {
		case f < 0:
			ids[row] = -1
		case int(f) == row:
			ids[row] = int32(len(firsts))
			firsts = append(firsts, f)
		case int(f) > row || first[f] != f:
			return nil, nil, fmt.Errorf("uniques: row %d has first row %d", row, f)
		default:
			ids[row] = ids[f]
		}
	}
	return ids, firsts, nil
}
