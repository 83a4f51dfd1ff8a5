package gpuparse

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// flatList plans the fast path of the most common array columns: one-dimensional lists
// (Dims 1) of a fixed-width scalar or of strings or binaries (int[], text[], ...). They are
// decoded like the flat kinds rather than through tree.go's builders: the first pass checks
// each value and counts its elements (and string bytes), and the second writes them into
// Arrow buffers allocated once at their exact size from the decoder's allocator.
//
// The result is the tree path's, bit for bit over the bytes the arrays use: the same buffers
// (a validity bitmap even without NULLs, none for the elements of a column with no element),
// the same values, and the same errors, since a value the fast check rejects is checked again
// by the tree path, whose error is reported. NULL element slots are zero whatever memory the
// allocator hands out (the builders leave them as they found them).
type flatList struct {
	elem  pgarrow.Kind
	fixed int            // wire length of a fixed-width element; 0 for strings and binary
	width int            // bytes per element in the values buffer; 0 for bool (a bitmap) and strings
	oid   uint32         // the element type OID arrays must name; 0: any
	etype arrow.DataType // the Arrow type of the elements
}

// newFlatList is the fast plan of the list column planned by n, of Arrow type dt, or nil if
// the column needs the tree path (several dimensions, elements of another kind).
func newFlatList(n *tnode, dt arrow.DataType) *flatList {
	lt, ok := dt.(*arrow.ListType)
	if n.kind != pgarrow.KindList || n.dims != 1 || len(n.kids) != 1 || !ok {
		return nil
	}
	e := n.kids[0]
	f := &flatList{elem: e.kind, fixed: e.fixed, oid: e.sendOID, etype: lt.Elem()}
	switch e.kind {
	case pgarrow.KindBool, pgarrow.KindString, pgarrow.KindBinary:
	case pgarrow.KindInt16:
		f.width = 2
	case pgarrow.KindInt32, pgarrow.KindFloat32, pgarrow.KindUint32, pgarrow.KindDate:
		f.width = 4
	case pgarrow.KindInt64, pgarrow.KindFloat64, pgarrow.KindUint64, pgarrow.KindTimestamp, pgarrow.KindTimestampTZ,
		pgarrow.KindTime, pgarrow.KindTimeMicros:
		f.width = 8
	case pgarrow.KindMoney:
		f.width = decimal128Len
	default:
		return nil
	}
	return f
}

// varlen says whether the elements have offsets and data buffers (strings, binary).
func (f *flatList) varlen() bool { return f.fixed == 0 }

// listElems is the element array of a fast list column for one Decode call.
type listElems struct {
	n, nulls int   // elements and NULL elements, counted by the first pass
	nbytes   int64 // bytes of string or binary elements, counted by the first pass

	valid, vals, data *memory.Buffer // vals: values, or offsets for strings
	validB, valsB     []byte
	dataB             []byte
	// Typed views of valsB.
	u16  []uint16
	u32  []uint32
	u64  []uint64
	offs []int32
	dpos int // bytes written to dataB
}

// scan is the first pass over array value b: ok says whether tnode.check accepts b (exactly
// then), and elems, nulls and nbytes count its elements, NULL elements and string bytes.
func (f *flatList) scan(b []byte) (elems, nulls int, nbytes int64, ok bool) {
	if len(b) < arrayHeaderLen || be32(b[4:]) > 1 || f.oid != 0 && be32(b[8:]) != f.oid {
		return 0, 0, 0, false
	}
	switch be32(b) { // ndim
	case 0:
		return 0, 0, 0, len(b) == arrayHeaderLen
	case 1:
	default:
		return 0, 0, 0, false
	}
	const first = arrayHeaderLen + arrayDimLen
	if len(b) < first || be32(b[arrayHeaderLen+4:]) != 1 { // lower bound
		return 0, 0, 0, false
	}
	size := int(int32(be32(b[arrayHeaderLen:])))
	if size < 0 || size > (len(b)-first)/fieldLenLen {
		return 0, 0, 0, false
	}
	p := first
	for range size {
		if len(b)-p < fieldLenLen {
			return 0, 0, 0, false
		}
		l := int(int32(be32(b[p:])))
		p += fieldLenLen
		if l == nullFieldLen {
			nulls++
			continue
		}
		if l < 0 || l > len(b)-p {
			return 0, 0, 0, false
		}
		if f.fixed == 0 {
			nbytes += int64(l)
		} else if l != f.fixed || !f.inRange(b[p:]) {
			return 0, 0, 0, false
		}
		p += l
	}
	return size, nulls, nbytes, p == len(b)
}

// inRange says whether the element at v converts to its Arrow type: dates and timestamps
// must not overflow their shift to 1970, as tnode.check says.
func (f *flatList) inRange(v []byte) bool {
	switch f.elem {
	case pgarrow.KindDate:
		return dateFits(int32(be32(v)))
	case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
		return microsFit(int64(be64(v)))
	}
	return true
}

// checkList is checkValue for a fast list column: it counts the value's elements, and reports
// tnode.check's error for a value scan rejects.
func (d *CPUDecoder) checkList(c *pgcopy.Chunk, s *colState, ci, row, start int, body []byte) *pgcopy.DecodeError {
	n, nulls, nbytes, ok := s.list.scan(body)
	if !ok {
		if e := s.tree.check(body); e != nil {
			return d.errAt(c, start+e.off, row, ci, "%s", e.msg)
		}
		return d.errAt(c, start, row, ci, "internal error: the fast array check rejects a value the tree check accepts")
	}
	s.el.n += n
	s.el.nulls += nulls
	s.el.nbytes += nbytes
	return nil
}

// allocList allocates a fast list column's buffers once the first pass has counted its
// elements: the list's validity and offsets in s, the elements' in s.el.
func (d *CPUDecoder) allocList(c *pgcopy.Chunk, s *colState, ci, rows int, all *[]*memory.Buffer) *pgcopy.DecodeError {
	e := &s.el
	if e.nbytes > maxStringData || e.n > math.MaxInt32 {
		return d.errAt(c, 0, -1, ci, "the chunk holds %d array elements of %d bytes for this column, more than one Arrow array can address; cut smaller chunks", e.n, e.nbytes)
	}
	s.valid, s.validB = d.newBuffer(int(bitutil.BytesForBits(int64(rows))), all)
	clear(s.validB)
	s.vals, s.valsB = d.newBuffer(4*(rows+1), all)
	s.offs = arrow.GetData[int32](s.valsB)
	if s.list.varlen() {
		e.vals, e.valsB = d.newBuffer(4*(e.n+1), all)
		e.offs = arrow.GetData[int32](e.valsB)
		e.data, e.dataB = d.newBuffer(int(e.nbytes), all)
	}
	if e.n == 0 {
		return nil // like an element builder never appended to: no validity, no values
	}
	e.valid, e.validB = d.newBuffer(int(bitutil.BytesForBits(int64(e.n))), all)
	clear(e.validB)
	switch {
	case s.list.elem == pgarrow.KindBool:
		e.vals, e.valsB = d.newBuffer(int(bitutil.BytesForBits(int64(e.n))), all)
		clear(e.valsB)
	case s.list.width > 0:
		e.vals, e.valsB = d.newBuffer(s.list.width*e.n, all)
		if e.nulls > 0 {
			clear(e.valsB) // NULL slots are zero, as the GPU decoder's are
		}
		e.u16, e.u32, e.u64 = widthViews(e.valsB, s.list.width)
	}
	return nil
}

// putList writes array value b, accepted by scan, as row's list. The list's validity bit is
// the caller's (markValid), and putNull writes a NULL row's offset (s.dpos counts the
// elements written).
func (s *colState) putList(row int, b []byte) {
	s.offs[row] = int32(s.dpos)
	if be32(b) == 0 {
		return // no dimension: an empty list
	}
	e := &s.el
	p := arrayHeaderLen + arrayDimLen
	first, end := s.dpos, s.dpos+int(int32(be32(b[arrayHeaderLen:])))
	s.dpos = end
	if s.list.varlen() {
		for i := first; i < end; i++ {
			l := int(int32(be32(b[p:])))
			p += fieldLenLen
			e.offs[i] = int32(e.dpos)
			if l >= 0 {
				e.validB[i>>3] |= 1 << (i & 7)
				e.dpos += copy(e.dataB[e.dpos:], b[p:p+l])
				p += l
			}
		}
		return
	}
	kind := s.list.elem
	for i := first; i < end; i++ {
		l := int(int32(be32(b[p:])))
		p += fieldLenLen
		if l < 0 {
			continue
		}
		v := b[p : p+l]
		p += l
		e.validB[i>>3] |= 1 << (i & 7)
		switch kind {
		case pgarrow.KindInt32, pgarrow.KindFloat32, pgarrow.KindUint32:
			e.u32[i] = be32(v)
		case pgarrow.KindInt64, pgarrow.KindFloat64, pgarrow.KindUint64, pgarrow.KindTime, pgarrow.KindTimeMicros:
			e.u64[i] = be64(v)
		case pgarrow.KindInt16:
			e.u16[i] = be16(v)
		case pgarrow.KindBool:
			if v[0] != 0 {
				e.valsB[i>>3] |= 1 << (i & 7)
			}
		case pgarrow.KindDate:
			d, _ := unixDate(int32(be32(v))) // scanned
			e.u32[i] = uint32(d)
		case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
			t, _ := unixMicros(int64(be64(v))) // scanned
			e.u64[i] = uint64(t)
		case pgarrow.KindMoney:
			m := int64(be64(v))
			e.u64[2*i], e.u64[2*i+1] = uint64(m), uint64(m>>63)
		}
	}
}

// finishList makes a fast list column's array from its filled buffers.
func (d *CPUDecoder) finishList(c *pgcopy.Chunk, s *colState, ci, rows int) (arrow.Array, error) {
	e := &s.el
	if s.dpos != e.n || int64(e.dpos) != e.nbytes {
		return nil, d.errAt(c, len(c.Data), -1, ci, "internal error: wrote %d array elements of %d bytes, the first pass counted %d of %d", s.dpos, e.dpos, e.n, e.nbytes)
	}
	s.offs[rows] = int32(s.dpos)
	bufs := []*memory.Buffer{e.valid, e.vals}
	if s.list.varlen() {
		e.offs[e.n] = int32(e.dpos)
		bufs = append(bufs, e.data)
	}
	elems := array.NewData(s.list.etype, e.n, bufs, nil, e.nulls, 0)
	defer elems.Release()
	ad := array.NewData(s.dtype, rows, []*memory.Buffer{s.valid, s.vals}, []arrow.ArrayData{elems}, s.nulls, 0)
	defer ad.Release()
	return array.MakeFromData(ad), nil
}

// FlatListPlan is how the CPU decoder's fast path decodes a one-dimensional list column, for a
// decoder of its own (the CUDA decoder) that must give the same arrays, buffer for buffer:
// list validity (present even without NULLs) and int32 offsets; the elements' validity (none
// when the chunk holds no element), values (Width bytes each, NULL slots zero; a bitmap for
// bool; int32 offsets and data for strings and binary). A value is accepted exactly when every
// check of the fast path's first pass holds: a 12-byte header (ndim 0 or 1, has-null flag 0 or
// 1, element type OID equal to OID unless OID is 0), for ndim 0 nothing more (an empty list),
// for ndim 1 a lower bound of 1, a size from 0 to what the value can hold, and elements that
// are NULL (-1) or of exactly Fixed bytes (any length for strings) in range for their
// conversion (dates and timestamps shifted to 1970 without overflow), ending exactly at the
// value's end. Any other value must go to the CPU decoder, which reports its error.
type FlatListPlan struct {
	Elem     pgarrow.Kind   // the elements' kind
	Fixed    int            // wire length of a fixed-width element; 0 for strings and binary
	Width    int            // bytes per element in the values buffer; 0 for bool (a bitmap) and strings
	OID      uint32         // the element type OID arrays must name; 0: any
	ElemType arrow.DataType // the Arrow type of the elements
}

// FlatList returns the fast-path plan of column col, and false when col is not such a column
// (not a list, several dimensions, elements the fast path leaves to the tree path, or a
// column index out of range).
func (d *CPUDecoder) FlatList(col int) (FlatListPlan, bool) {
	if col < 0 || col >= len(d.plans) || d.plans[col].list == nil {
		return FlatListPlan{}, false
	}
	f := d.plans[col].list
	return FlatListPlan{Elem: f.elem, Fixed: f.fixed, Width: f.width, OID: f.oid, ElemType: f.etype}, true
}
