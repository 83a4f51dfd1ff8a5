package device

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/pqfile"
)

// PageEncoder is the GPU writer's encoder of fixed-width columns: it turns columns of decoded
// batches into compressed Parquet data pages (definition levels, PLAIN values, exact page and
// chunk statistics) for pqfile. The pages are encoded on the GPU (encode.cu) once the Device's
// GPU is ready and its library has the page encoder, else by the CPU twin pqfile.PlainPages,
// which writes the same bytes (make test-gpu). They are compressed through the codec
// registered for the export's compression, which sends them to nvCOMP when Compression says
// so. A CUDA error in a batch sends that batch to the CPU twin, with a warning.
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
	gpuPages atomic.Int64 // columns encoded on the GPU
	cpuPages atomic.Int64 // columns encoded by the CPU twin
}

// PageEncoder returns an encoder of pages compressed with c (its registered codec, so GPU
// compression follows Compression's decision).
func (d *Device) PageEncoder(c compress.Compression) (*PageEncoder, error) {
	cpu, err := pqfile.NewCPUPlain(c)
	if err != nil {
		return nil, fmt.Errorf("page encoder: %w", err)
	}
	return &PageEncoder{dev: d, cpu: cpu}, nil
}

var _ pqfile.PlainEncoder = (*PageEncoder)(nil)

// Counts says how many column batches were encoded on the GPU and by the CPU twin.
func (p *PageEncoder) Counts() (gpu, cpu int64) { return p.gpuPages.Load(), p.cpuPages.Load() }

// Encode implements pqfile.PlainEncoder: cols are of types pqfile.EncodesPlain accepts.
func (p *PageEncoder) Encode(cols []arrow.Array, nullable []bool, pageRows int) ([]pqfile.Encoded, error) {
	if onGPU(cols) {
		if e := p.take(); e != nil {
			out, err := p.encodeGPU(e, cols, nullable, pageRows)
			p.give(e)
			if err == nil {
				p.gpuPages.Add(int64(len(cols)))
				return out, nil
			}
			p.dev.log.Warn("CUDA error: this batch's pages are encoded on the CPU", "error", err.Error())
		}
	}
	p.cpuPages.Add(int64(len(cols)))
	return p.cpu.Encode(cols, nullable, pageRows)
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
	p.closed = true
	for _, e := range p.idle {
		e.close()
	}
	p.idle = nil
}

// encodeGPU encodes cols with e and compresses the pages.
func (p *PageEncoder) encodeGPU(e *encoder, cols []arrow.Array, nullable []bool, pageRows int) ([]pqfile.Encoded, error) {
	in := make([]encCol, len(cols))
	for i, a := range cols {
		// Pages as long as the column (when shorter than pageRows) rather than pageRows: the
		// same single page, and no pinned memory or copy for rows that are not there.
		c, err := encColOf(a, nullable[i], min(pageRows, max(a.Len(), 1)))
		if err != nil {
			return nil, err
		}
		in[i] = c
	}
	pages, _, err := e.run(in)
	if err != nil {
		return nil, err
	}
	out := make([]pqfile.Encoded, len(cols))
	raws := make([][]pqfile.RawPage, len(cols))
	for i, ps := range pages {
		raw := make([]pqfile.RawPage, len(ps))
		var chunk statMerge
		chunk.init(in[i])
		for j, pg := range ps {
			st := metadata.EncodedStatistics{HasNullCount: true, NullCount: pg.Nulls}
			if pg.HasStats {
				st.HasMin, st.HasMax = true, true
				st.Min, st.Max = append([]byte(nil), pg.Min...), append([]byte(nil), pg.Max...)
			}
			chunk.add(st)
			raw[j] = pqfile.RawPage{Data: pg.Data, NumValues: int32(pg.Rows), Stats: st}
		}
		raws[i] = raw
		out[i].Stats = chunk.st
	}
	// The pages are views of e's pinned memory: compressed (copied) before e runs again.
	for i, pages := range p.cpu.Compress(raws) {
		out[i].Pages = pages
	}
	return out, nil
}

// encColOf describes a for the GPU encoder.
func encColOf(a arrow.Array, nullable bool, pageRows int) (encCol, error) {
	if !pqfile.EncodesPlain(a.DataType()) {
		return encCol{}, fmt.Errorf("encode: %s has no PLAIN encoder on the GPU", a.DataType())
	}
	if !nullable && a.NullN() > 0 {
		return encCol{}, fmt.Errorf("encode: %d NULLs in a required column", a.NullN())
	}
	width := a.DataType().(arrow.FixedWidthDataType).Bytes()
	d := a.Data()
	off := d.Offset()
	if off%8 != 0 {
		return encCol{}, fmt.Errorf("encode: an array at offset %d (not a multiple of 8)", off)
	}
	c := encCol{n: a.Len(), width: width, nullable: nullable, pageRows: pageRows}
	switch t := a.DataType().(type) {
	case *arrow.Float32Type, *arrow.Float64Type:
		c.kind = kindFloat
	case *arrow.Decimal128Type:
		c.kind, c.outWidth = kindDecimal, int(pqarrow.DecimalSize(t.Precision))
	}
	if b := d.Buffers()[1]; b != nil {
		c.values = b.Bytes()[off*width:]
	}
	if b := d.Buffers()[0]; b != nil && a.NullN() > 0 {
		c.valid = b.Bytes()[off/8:]
	}
	return c, nil
}

// statMerge merges page statistics into the chunk's, as pqfile.PlainPages computes them over
// all values: NaN is never a page's min or max, a zero min is -0.0 and a zero max +0.0.
type statMerge struct {
	st      metadata.EncodedStatistics
	width   int
	float   bool
	decimal bool
}

func (m *statMerge) init(c encCol) {
	m.width = c.plainWidth()
	m.float = c.kind == kindFloat
	m.decimal = c.kind == kindDecimal
	m.st = metadata.EncodedStatistics{HasNullCount: true}
}

func (m *statMerge) value(b []byte) float64 {
	if m.width == 4 {
		if m.float {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		return float64(int32(binary.LittleEndian.Uint32(b)))
	}
	if m.float {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0 // int64: compared as integers in less
}

// less says whether the value a is below b.
func (m *statMerge) less(a, b []byte) bool {
	switch {
	case m.decimal: // big-endian two's complement of one width: the first byte signed
		if a[0] != b[0] {
			return int8(a[0]) < int8(b[0])
		}
		return bytes.Compare(a[1:], b[1:]) < 0
	case m.width == 8 && !m.float:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	}
	return m.value(a) < m.value(b)
}

func (m *statMerge) add(p metadata.EncodedStatistics) {
	m.st.NullCount += p.NullCount
	if !p.HasMin {
		return
	}
	if !m.st.HasMin {
		m.st.HasMin, m.st.HasMax = true, true
		m.st.Min, m.st.Max = p.Min, p.Max
		return
	}
	if m.less(p.Min, m.st.Min) {
		m.st.Min = p.Min
	}
	if m.less(m.st.Max, p.Max) {
		m.st.Max = p.Max
	}
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
type encCol struct {
	values, valid []byte
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
