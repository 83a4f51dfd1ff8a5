package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// Epoch shifts from PostgreSQL's 2000-01-01 to Arrow's 1970-01-01.
const (
	pgEpochDays   = 10957           // days from 1970-01-01 to 2000-01-01
	pgEpochMicros = 946684800000000 // µs from 1970-01-01 to 2000-01-01
	maxStringData = math.MaxInt32   // bytes one arrow string/binary array can address
	jsonbVersion  = 1               // the only jsonb wire version
	pathCPU       = "cpu"           // CPUDecoder.Path
	fieldCountLen = 2               // int16 field count at the start of a tuple
	fieldLenLen   = 4               // int32 length before each field
	uuidLen       = 16              // uuid wire and Arrow width
	decimal128Len = 16              // bytes per decimal128 value
	decimal256Len = 32              // bytes per decimal256 value
	nullFieldLen  = -1              // field length of a NULL
)

// CPUDecoder is the pure-Go reference implementation of Decoder. It walks
// each chunk twice: a first pass validates the framing (field counts,
// lengths, numeric headers) and counts rows, NULLs and output bytes per
// column, so that the second pass writes every value straight into Arrow
// buffers allocated once at their exact size.
//
// A CPUDecoder holds only immutable state after NewCPUDecoder returns, so any
// number of goroutines may call Decode at once (the allocator must then be
// safe for concurrent use, as memory.GoAllocator and memory.CheckedAllocator
// are).
//
// String values are copied as sent, without UTF-8 validation: the server
// sends text in the connection's client_encoding, which the receiver must set
// to UTF8, and validating every value would cost about as much as the decode
// itself.
type CPUDecoder struct {
	cols   []pgarrow.Column
	plans  []colPlan
	want   []int32 // per column: the exact field length of fixed-width kinds, -1 for the others
	schema *arrow.Schema
	mem    memory.Allocator
	err    error // a configuration error every Decode returns
	closed atomic.Bool
}

// colPlan is the immutable per-column part of the decoding.
type colPlan struct {
	kind   pgarrow.Kind
	fixed  int  // exact field length of fixed-width kinds, 0 for variable-length ones
	width  int  // bytes per value in the Arrow values buffer; 0 for bool and variable-length kinds
	varlen bool // Arrow offsets + data buffers (string, binary, json, numeric text)
	dtype  arrow.DataType
	prec   int
	scale  int
	limit  [4]uint64 // 10^prec, for decimals
	tree   *tnode    // the kinds after KindNumericString: decoded by tree.go into a builder
	list   *flatList // a one-dimensional list of scalars or strings: decoded by list.go, not into a builder
}

// NewCPUDecoder returns the pure-Go decoder for these columns, allocating
// Arrow buffers from mem (memory.DefaultAllocator if nil). cols is copied.
// A column that PlanColumn could not have produced (invalid Kind, decimal
// precision or scale out of range) makes every Decode fail with an error
// naming it.
func NewCPUDecoder(cols []pgarrow.Column, mem memory.Allocator) *CPUDecoder {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	d := &CPUDecoder{
		cols:   slices.Clone(cols),
		plans:  make([]colPlan, len(cols)),
		want:   make([]int32, len(cols)),
		schema: pgarrow.ArrowSchema(cols),
		mem:    mem,
	}
	for i, c := range cols {
		dt, err := pgarrow.ArrowType(c)
		if err != nil {
			d.err = errors.Join(d.err, fmt.Errorf("gpuparse: cpu decoder: %w", err))
			continue
		}
		d.plans[i] = newColPlan(c, dt)
		d.want[i] = int32(d.plans[i].fixed)
		if d.plans[i].fixed == 0 {
			d.want[i] = -1
		}
	}
	return d
}

// newColPlan is column c's plan, of Arrow type dt, from the kinds table.
func newColPlan(c pgarrow.Column, dt arrow.DataType) colPlan {
	info := c.Kind.Info()
	p := colPlan{kind: c.Kind, dtype: dt, fixed: info.Fixed, width: info.Width, varlen: info.VarLen}
	if info.Tree {
		p.tree = newTNode(c, "")
		p.list = newFlatList(p.tree, dt)
	}
	if c.Kind == pgarrow.KindDecimal128 || c.Kind == pgarrow.KindDecimal256 {
		p.prec, p.scale = int(c.Precision), int(c.Scale)
		p.limit = pow10x256(p.prec)
	}
	return p
}

// Err is the configuration error every Decode returns (a column PlanColumn could not have made),
// nil for a usable decoder.
func (d *CPUDecoder) Err() error { return d.err }

// Path returns "cpu".
func (d *CPUDecoder) Path() string { return pathCPU }

// Schema returns the schema of the batches Decode returns (ArrowSchema of the
// decoder's columns).
func (d *CPUDecoder) Schema() *arrow.Schema { return d.schema }

// Close marks the decoder closed; later Decode calls fail. The CPU decoder
// holds no resources of its own, so Close never fails and may be called
// more than once.
func (d *CPUDecoder) Close() error {
	d.closed.Store(true)
	return nil
}

// colState is one column's plan plus its statistics and buffers for one
// Decode call.
type colState struct {
	colPlan
	nulls  int
	nbytes int64 // bytes of the data buffer (variable-length kinds)

	valid, vals, data    *memory.Buffer
	validB, valsB, dataB []byte
	// Typed views of valsB (Arrow buffers are in native byte order).
	u16  []uint16
	u32  []uint32
	u64  []uint64
	offs []int32
	dpos int           // bytes written to dataB; elements written, for list columns (offs are the list's)
	bld  array.Builder // tree kinds
	el   listElems     // the elements of list columns
}

// Decode decodes the tuples of c into a record batch with one row per tuple.
// Malformed input gives a *DecodeError (unwrapped); a done ctx gives its
// error, wrapped; a decoder built from invalid columns, or closed, gives a
// plain error. The caller releases the batch; c.Data may be reused as soon as
// Decode returns.
func (d *CPUDecoder) Decode(ctx context.Context, c *pgcopy.Chunk) (rec arrow.RecordBatch, err error) {
	// The first pass validates everything the second pass relies on, so a
	// panic here is a bug in this package, not bad input. Turn it into an
	// error rather than take down a process that serves many exports; fill's
	// deferred releases have run by then.
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("gpuparse: cpu decoder: internal error: %v", p)
		}
	}()
	if d.err != nil {
		return nil, d.err
	}
	if d.closed.Load() {
		return nil, errors.New("gpuparse: cpu decoder: Decode after Close")
	}
	if c == nil {
		return nil, errors.New("gpuparse: cpu decoder: nil chunk")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.Source, err)
	}
	st := make([]colState, len(d.plans))
	for i := range st {
		st[i].colPlan = d.plans[i]
	}
	rows, derr := d.walk(c, st)
	if derr != nil {
		return nil, derr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.Source, err)
	}
	return d.fill(c, st, rows)
}

// errAt builds a *DecodeError at chunk offset off, in chunk row row (-1: none)
// and column ci (-1: none).
func (d *CPUDecoder) errAt(c *pgcopy.Chunk, off, row, ci int, format string, args ...any) *pgcopy.DecodeError {
	e := &pgcopy.DecodeError{
		Source: c.Source,
		Offset: c.StreamOffset + int64(off),
		Row:    -1,
		Msg:    fmt.Sprintf(format, args...),
	}
	if row >= 0 {
		e.Row = c.FirstRow + int64(row)
	}
	if ci >= 0 {
		e.Column = d.cols[ci].Name
		e.PGType = d.cols[ci].PGType
	}
	return e
}

// walk is the first pass: it validates the framing of every tuple, checks
// c.RowStarts against it (recorded starts must be tuple starts), and fills each column's NULL count and output byte
// count. After it succeeds, the second pass can trust every length.
func (d *CPUDecoder) walk(c *pgcopy.Chunk, st []colState) (int, *pgcopy.DecodeError) {
	data := c.Data
	rs := c.RowStarts
	want := d.want
	rows := 0
	// rest is the unread part of data; the offset of its start in the chunk
	// is len(data)-len(rest).
	rest := data
	at := func() int { return len(data) - len(rest) }
	// The receiver records where each CopyData message starts. PostgreSQL sends one message
	// per row, so normally every tuple start is recorded; a server that put several rows in one
	// message would record only some. Recorded starts must therefore be tuple starts, in order,
	// the first at 0, but tuples between them may be unrecorded: the walk decides.
	next := 0 // index of the next recorded start to meet
	if len(rs) > 0 && rs[0] != 0 {
		return 0, d.errAt(c, 0, 0, -1, "tuple starts at chunk offset 0, but the receiver recorded a row start at %d", rs[0])
	}
	for len(rest) > 0 {
		if next < len(rs) && int64(rs[next]) < int64(at()) {
			return 0, d.errAt(c, at(), rows, -1, "the receiver recorded a row start at %d, inside the tuple that ends at chunk offset %d", rs[next], at())
		}
		if next < len(rs) && int64(rs[next]) == int64(at()) {
			next++
		}
		if len(rest) < fieldCountLen {
			return 0, d.errAt(c, at(), rows, -1, "truncated tuple: %d byte left, need 2 for the field count", len(rest))
		}
		if fc := int(int16(binary.BigEndian.Uint16(rest))); fc != len(want) {
			if fc == -1 {
				return 0, d.errAt(c, at(), rows, -1, "unexpected trailer (field count -1) inside a chunk")
			}
			return 0, d.errAt(c, at(), rows, -1, "field count %d, expected %d", fc, len(want))
		}
		rest = rest[fieldCountLen:]
		for ci, w := range want {
			if len(rest) < fieldLenLen {
				return 0, d.errAt(c, at(), rows, ci, "truncated tuple: %d bytes left, need 4 for the field length", len(rest))
			}
			l := int(int32(binary.BigEndian.Uint32(rest)))
			if l < 0 {
				if l != nullFieldLen {
					return 0, d.errAt(c, at(), rows, ci, "field length %d, expected -1 (NULL) or >= 0", l)
				}
				st[ci].nulls++
				rest = rest[fieldLenLen:]
				continue
			}
			if w > 0 && l != int(w) {
				return 0, d.errAt(c, at(), rows, ci, "field length %d, expected %d", l, w)
			}
			if l > len(rest)-fieldLenLen {
				return 0, d.errAt(c, at(), rows, ci, "field length %d runs past the end of the chunk (%d bytes left)", l, len(rest)-fieldLenLen)
			}
			if w > 0 && st[ci].tree == nil {
				rest = rest[fieldLenLen+l:]
				continue
			}
			s := &st[ci]
			if s.kind == pgarrow.KindString || s.kind == pgarrow.KindBinary || s.kind == pgarrow.KindJSON {
				s.nbytes += int64(l)
			} else if e := d.checkValue(c, s, ci, rows, at()+fieldLenLen, rest[fieldLenLen:fieldLenLen+l]); e != nil {
				return 0, e
			}
			rest = rest[fieldLenLen+l:]
		}
		rows++
	}
	if next < len(rs) {
		return 0, d.errAt(c, len(data), rows, -1, "chunk holds %d tuples, but the receiver recorded a row start at %d, past the last one", rows, rs[next])
	}
	return rows, nil
}

// checkValue is the first pass over one non-NULL value at chunk offset start of a kind that
// needs more than its length checked: tree kinds, jsonb and numerics (walk counts plain
// strings' bytes itself, in its hot loop). It counts the column's output bytes and reports the
// first wrong byte.
func (d *CPUDecoder) checkValue(c *pgcopy.Chunk, s *colState, ci, row, start int, body []byte) *pgcopy.DecodeError {
	if s.list != nil {
		return d.checkList(c, s, ci, row, start, body)
	}
	if s.tree != nil {
		if e := s.tree.check(body); e != nil {
			return d.errAt(c, start+e.off, row, ci, "%s", e.msg)
		}
		return nil
	}
	switch s.kind {
	case pgarrow.KindJSONB:
		if len(body) < 1 {
			return d.errAt(c, start-fieldLenLen, row, ci, "jsonb field length 0, need at least the version byte")
		}
		s.nbytes += int64(len(body) - 1)
	case pgarrow.KindDecimal128, pgarrow.KindDecimal256, pgarrow.KindNumericString:
		h, bad, msg := parseNumericHeader(body)
		if msg != "" {
			return d.errAt(c, start+bad, row, ci, "%s", msg)
		}
		if s.kind == pgarrow.KindNumericString {
			s.nbytes += int64(numericTextLen(h, body[numericHeaderLen:]))
		}
	}
	return nil
}

// newBuffer allocates a buffer of exactly size bytes from the decoder's
// allocator and records it in *all for release.
func (d *CPUDecoder) newBuffer(size int, all *[]*memory.Buffer) (*memory.Buffer, []byte) {
	b := memory.NewResizableBuffer(d.mem)
	*all = append(*all, b)
	b.Resize(size)
	return b, b.Bytes()
}

// fill is the second pass: it allocates each column's buffers at their exact
// size, writes every value, and assembles the record batch.
func (d *CPUDecoder) fill(c *pgcopy.Chunk, st []colState, rows int) (arrow.RecordBatch, error) {
	var all []*memory.Buffer
	// Arrays retain what they use; this releases the decoder's own references,
	// which frees everything on an error.
	defer func() {
		for _, b := range all {
			b.Release()
		}
		for ci := range st {
			if st[ci].bld != nil {
				st[ci].bld.Release()
			}
		}
	}()
	for ci := range st {
		if err := d.alloc(c, &st[ci], ci, rows, &all); err != nil {
			return nil, err
		}
	}

	data := c.Data
	pos := 0
	for row := 0; row < rows; row++ {
		pos += fieldCountLen
		for ci := range st {
			s := &st[ci]
			l := int(int32(binary.BigEndian.Uint32(data[pos:])))
			pos += fieldLenLen
			if l < 0 {
				s.putNull(row)
				continue
			}
			start := pos
			pos += l
			s.markValid(row)
			switch s.kind {
			case pgarrow.KindInt32, pgarrow.KindFloat32:
				s.u32[row] = binary.BigEndian.Uint32(data[start:])
			case pgarrow.KindInt64, pgarrow.KindFloat64:
				s.u64[row] = binary.BigEndian.Uint64(data[start:])
			case pgarrow.KindString, pgarrow.KindBinary, pgarrow.KindJSON:
				s.offs[row] = int32(s.dpos)
				s.dpos += copy(s.dataB[s.dpos:], data[start:pos])
			case pgarrow.KindDate:
				v := int32(binary.BigEndian.Uint32(data[start:]))
				u, ok := unixDate(v)
				if !ok {
					return nil, d.errAt(c, start, row, ci, "date %d days after 2000-01-01 is out of range for date32 (and not +infinity)", v)
				}
				s.u32[row] = uint32(u)
			case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
				v := int64(binary.BigEndian.Uint64(data[start:]))
				u, ok := unixMicros(v)
				if !ok {
					return nil, d.errAt(c, start, row, ci, "timestamp %d µs after 2000-01-01 is out of range for timestamp[us] (%s: µs since 1970 overflow int64 past 294246 AD); export timestamps exactly as text with --timestamp text", v, formatTimestamp(nil, v, false))
				}
				s.u64[row] = uint64(u)
			case pgarrow.KindDecimal128:
				if v, ok := decimalFast(data[start:pos], s.scale, s.prec); ok {
					s.u64[2*row] = uint64(v)
					s.u64[2*row+1] = uint64(v >> 63)
				} else if err := d.putDecimal(c, s, ci, row, start, data[start:pos]); err != nil {
					return nil, err
				}
			case pgarrow.KindBool:
				if data[start] != 0 {
					s.valsB[row>>3] |= 1 << (row & 7)
				}
			case pgarrow.KindInt16:
				s.u16[row] = binary.BigEndian.Uint16(data[start:])
			case pgarrow.KindUUID:
				copy(s.valsB[uuidLen*row:], data[start:pos])
			case pgarrow.KindJSONB:
				if data[start] != jsonbVersion {
					return nil, d.errAt(c, start, row, ci, "jsonb version %d, expected %d", data[start], jsonbVersion)
				}
				s.offs[row] = int32(s.dpos)
				s.dpos += copy(s.dataB[s.dpos:], data[start+1:pos])
			default:
				if err := d.putValue(c, s, ci, row, start, data[start:pos]); err != nil {
					return nil, err
				}
			}
		}
	}

	arrs := make([]arrow.Array, len(st))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for ci := range st {
		a, err := d.finish(c, &st[ci], ci, rows)
		if err != nil {
			return nil, err
		}
		arrs[ci] = a
	}
	return array.NewRecordBatch(d.schema, arrs, int64(rows)), nil
}

// putNull records a NULL in row: an empty range for var-length kinds and fast list columns, a
// NULL in a builder; fixed-width slots and bits stay zero.
func (s *colState) putNull(row int) {
	if s.offs != nil {
		s.offs[row] = int32(s.dpos)
	} else if s.bld != nil {
		s.bld.AppendNull()
	}
}

// markValid sets row's validity bit when the column has a validity bitmap (builders keep their own).
func (s *colState) markValid(row int) {
	if s.validB != nil {
		s.validB[row>>3] |= 1 << (row & 7)
	}
}

// alloc allocates column ci's buffers (or builder) for rows values once the first pass has
// counted its NULLs and bytes; buffers go to *all, which the caller releases.
func (d *CPUDecoder) alloc(c *pgcopy.Chunk, s *colState, ci, rows int, all *[]*memory.Buffer) *pgcopy.DecodeError {
	if s.list != nil {
		return d.allocList(c, s, ci, rows, all)
	}
	if s.tree != nil {
		s.bld = array.NewBuilder(d.mem, s.dtype)
		s.bld.Reserve(rows)
		return nil
	}
	if s.nulls > 0 {
		s.valid, s.validB = d.newBuffer(int(bitutil.BytesForBits(int64(rows))), all)
		clear(s.validB)
	}
	switch {
	case s.kind == pgarrow.KindBool:
		s.vals, s.valsB = d.newBuffer(int(bitutil.BytesForBits(int64(rows))), all)
		clear(s.valsB)
	case s.varlen:
		if s.nbytes > maxStringData {
			return d.errAt(c, 0, -1, ci, "the chunk holds %d bytes of values for this column, more than one Arrow array can address (%d); cut smaller chunks", s.nbytes, int64(maxStringData))
		}
		s.vals, s.valsB = d.newBuffer(4*(rows+1), all)
		s.offs = arrow.GetData[int32](s.valsB)
		s.data, s.dataB = d.newBuffer(int(s.nbytes), all)
	default:
		s.vals, s.valsB = d.newBuffer(s.width*rows, all)
		if s.nulls > 0 {
			clear(s.valsB) // NULL slots stay zero, as in the GPU decoder
		}
		s.u16, s.u32, s.u64 = widthViews(s.valsB, s.width)
	}
	return nil
}

// unixDate is date v (days since 2000-01-01, as PostgreSQL sends it) in days since 1970, as
// date32 holds it, ±infinity kept as the int32 extremes; ok is false where the shift would
// overflow.
func unixDate(v int32) (u int32, ok bool) {
	switch {
	case v == math.MaxInt32 || v == math.MinInt32:
		return v, true
	case v >= math.MaxInt32-pgEpochDays:
		return 0, false
	}
	return v + pgEpochDays, true
}

// unixMicros is timestamp v (µs since 2000-01-01) in µs since 1970, as timestamp[us] holds it,
// ±infinity kept as the int64 extremes; ok is false where the shift would overflow.
func unixMicros(v int64) (u int64, ok bool) {
	switch {
	case v == math.MaxInt64 || v == math.MinInt64:
		return v, true
	case v >= math.MaxInt64-pgEpochMicros:
		return 0, false
	}
	return v + pgEpochMicros, true
}

// dateFits says whether date v converts to date32 (unixDate).
func dateFits(v int32) bool { _, ok := unixDate(v); return ok }

// microsFit says whether timestamp v converts to timestamp[us] (unixMicros).
func microsFit(v int64) bool { _, ok := unixMicros(v); return ok }

// widthViews returns b as a slice of its values' width (2, 4 or 8 bytes); the others are nil.
func widthViews(b []byte, width int) (u16 []uint16, u32 []uint32, u64 []uint64) {
	switch width {
	case 2:
		u16 = arrow.GetData[uint16](b)
	case 4:
		u32 = arrow.GetData[uint32](b)
	default:
		u64 = arrow.GetData[uint64](b)
	}
	return u16, u32, u64
}

// putValue writes one non-NULL value, checked by checkValue, of the kinds whose conversion
// takes more than a few instructions: tree kinds, decimal256 and numeric text. (Validity bits
// are the caller's.)
func (d *CPUDecoder) putValue(c *pgcopy.Chunk, s *colState, ci, row, start int, body []byte) *pgcopy.DecodeError {
	switch {
	case s.list != nil:
		s.putList(row, body)
	case s.bld != nil:
		s.tree.appendValue(s.bld, body)
	case s.kind == pgarrow.KindDecimal256:
		if v, ok := decimalFast(body, s.scale, s.prec); ok {
			w := uint64(v >> 63)
			s.u64[4*row], s.u64[4*row+1], s.u64[4*row+2], s.u64[4*row+3] = uint64(v), w, w, w
			return nil
		}
		return d.putDecimal(c, s, ci, row, start, body)
	case s.kind == pgarrow.KindNumericString:
		s.offs[row] = int32(s.dpos)
		return d.putNumericText(c, s, ci, row, start, body)
	default:
		return d.errAt(c, start, row, ci, "internal error: no decoder for kind %s", s.kind)
	}
	return nil
}

// finish makes column ci's array from its filled buffers (or builder).
func (d *CPUDecoder) finish(c *pgcopy.Chunk, s *colState, ci, rows int) (arrow.Array, error) {
	if s.list != nil {
		return d.finishList(c, s, ci, rows)
	}
	if s.bld != nil {
		a := s.bld.NewArray()
		fillNilIndices(a.Data())
		return a, nil
	}
	bufs := []*memory.Buffer{s.valid, s.vals}
	if s.varlen {
		s.offs[rows] = int32(s.dpos)
		if int64(s.dpos) != s.nbytes {
			return nil, d.errAt(c, len(c.Data), -1, ci, "internal error: wrote %d bytes of values, the first pass counted %d", s.dpos, s.nbytes)
		}
		bufs = append(bufs, s.data)
	}
	ad := array.NewData(s.dtype, rows, bufs, nil, s.nulls, 0)
	defer ad.Release()
	return array.MakeFromData(ad), nil
}

// fillNilIndices gives every empty dictionary array in d, nested ones included, an indices
// buffer. arrow-go's builders leave it nil, and its Parquet writer dereferences it when it
// writes a dictionary it already holds from an array with no values (a batch whose enum[]
// column has no elements).
func fillNilIndices(d arrow.ArrayData) {
	if bufs := d.Buffers(); d.DataType().ID() == arrow.DICTIONARY && len(bufs) > 1 && bufs[1] == nil {
		bufs[1] = memory.NewBufferBytes([]byte{})
	}
	for _, c := range d.Children() {
		fillNilIndices(c)
	}
}

// columnNumericRemedy says how to export exactly a numeric value that does not fit column c's
// decimal: its text form, or, where --numeric chose the decimal (no declared typmod), the
// default string mapping.
func columnNumericRemedy(c pgarrow.Column) string {
	if c.Typmod >= 4 {
		return "export it exactly with --as-text " + c.Name
	}
	return "export it exactly with --numeric string or --as-text " + c.Name
}

// putDecimal writes the numeric field body (header checked by walk) of row
// as the column's decimal128 or decimal256 value.
func (d *CPUDecoder) putDecimal(c *pgcopy.Chunk, s *colState, ci, row, start int, body []byte) *pgcopy.DecodeError {
	h, _, _ := parseNumericHeader(body)
	digits := body[numericHeaderLen:]
	typ := func() string { return fmt.Sprintf("%s(%d,%d)", s.kind, s.prec, s.scale) }
	numericRemedy := columnNumericRemedy(d.cols[ci])
	switch h.sign {
	case numericNaN:
		return d.errAt(c, start, row, ci, "NaN does not fit %s; %s", typ(), numericRemedy)
	case numericPInf:
		return d.errAt(c, start, row, ci, "Infinity does not fit %s; %s", typ(), numericRemedy)
	case numericNInf:
		return d.errAt(c, start, row, ci, "-Infinity does not fit %s; %s", typ(), numericRemedy)
	}
	mag, res, bad := numericUnscaled(digits, h.weight, s.scale, s.prec, &s.limit)
	if res != decOK && res != decBadDigit {
		// numericUnscaled stops at the first problem; report an invalid
		// digit anywhere before printing the value in the message.
		if b := checkDigits(digits); b >= 0 {
			res, bad = decBadDigit, b
		}
	}
	switch res {
	case decBadDigit:
		return d.errAt(c, start+numericHeaderLen+2*bad, row, ci, "numeric digit %d at index %d, expected 0..9999", digitAt(digits, bad), bad)
	case decTooBig:
		return d.errAt(c, start, row, ci, "numeric %s needs more than %d digits of precision: does not fit %s; %s", numericForMessage(h, digits), s.prec, typ(), numericRemedy)
	case decBeyondScale:
		return d.errAt(c, start, row, ci, "numeric %s has non-zero digits beyond scale %d: does not fit %s; %s", numericForMessage(h, digits), s.scale, typ(), numericRemedy)
	}
	if h.sign == numericNeg {
		negate256(&mag)
	}
	// Arrow decimals are two's complement integers stored as 64-bit words,
	// least significant first, each in native byte order.
	if s.kind == pgarrow.KindDecimal128 {
		s.u64[2*row], s.u64[2*row+1] = mag[0], mag[1]
		return nil
	}
	copy(s.u64[4*row:4*row+4], mag[:])
	return nil
}

// numericForMessage is the text of a numeric for an error message, elided
// if it is long. The digits must be valid.
func numericForMessage(h numHeader, digits []byte) string {
	const maxLen = 64
	if n := numericTextLen(h, digits); n > maxLen {
		return fmt.Sprintf("of %d characters (weight %d, dscale %d)", n, h.weight, h.dscale)
	}
	return string(appendNumericText(nil, h, digits))
}

// putNumericText writes the numeric field body (header checked by walk) of
// row as numeric_out's text.
func (d *CPUDecoder) putNumericText(c *pgcopy.Chunk, s *colState, ci, row, start int, body []byte) *pgcopy.DecodeError {
	h := readNumericHeader(body)
	digits := body[numericHeaderLen:]
	n := numericTextLen(h, digits)
	if s.dpos+n > len(s.dataB) {
		return d.errAt(c, start, row, ci, "internal error: numeric text of %d bytes overruns the %d bytes counted", n, len(s.dataB))
	}
	w, bad := writeNumericText(s.dataB[s.dpos:s.dpos+n], h, digits)
	if bad >= 0 {
		return d.errAt(c, start+numericHeaderLen+2*bad, row, ci, "numeric digit %d at index %d, expected 0..9999", digitAt(digits, bad), bad)
	}
	if w != n {
		return d.errAt(c, start, row, ci, "internal error: numeric text of %d bytes, expected %d", w, n)
	}
	s.dpos += n
	return nil
}
