package gpuparse

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/pgcopy"
)

// DecodeColumnAt decodes column col of chunk c alone, from the position of each of its fields:
// fieldStarts[row] is the chunk offset of the row's int32 length word. It is the entry a
// decoder that walks the tuples itself (the GPU decoder) uses for the columns it has no kernel
// for (pgarrow.KindInfo.GPU false), so that those columns cost the CPU only their own values,
// not a walk of the whole chunk.
//
// The result is the column Decode would give, bit for bit, allocated from the decoder's
// allocator; the caller releases it. Every position and length is checked again (they come from
// another program), and a value the CPU decoder rejects gives its *pgcopy.DecodeError; the
// caller then decodes the whole chunk with Decode, whose row-order walk decides which error is
// the first. Like Decode, it may be called from any number of goroutines at once.
func (d *CPUDecoder) DecodeColumnAt(c *pgcopy.Chunk, col int, fieldStarts []int32) (arr arrow.Array, err error) {
	ci, fields := col, fieldStarts
	defer func() {
		if p := recover(); p != nil {
			arr, err = nil, fmt.Errorf("gpuparse: cpu decoder: internal error: %v", p)
		}
	}()
	if d.err != nil {
		return nil, d.err
	}
	if col < 0 || col >= len(d.plans) {
		return nil, fmt.Errorf("gpuparse: cpu decoder: column %d of %d", col, len(d.plans))
	}
	s := &colState{colPlan: d.plans[ci]}
	data := c.Data
	rows := len(fields)
	// value returns where row's value starts and its length (-1: NULL), checked against the
	// chunk and the column's fixed width.
	value := func(row int) (int, int, *pgcopy.DecodeError) {
		at := int(fields[row])
		if at < 0 || at > len(data)-fieldLenLen {
			return 0, 0, d.errAt(c, min(max(at, 0), len(data)), row, ci, "field position %d outside the chunk of %d bytes", at, len(data))
		}
		l := int(int32(binary.BigEndian.Uint32(data[at:])))
		switch {
		case l == nullFieldLen:
			return 0, -1, nil
		case l < 0:
			return 0, 0, d.errAt(c, at, row, ci, "field length %d, expected -1 (NULL) or >= 0", l)
		case s.fixed > 0 && l != s.fixed:
			return 0, 0, d.errAt(c, at, row, ci, "field length %d, expected %d", l, s.fixed)
		case l > len(data)-at-fieldLenLen:
			return 0, 0, d.errAt(c, at, row, ci, "field length %d runs past the end of the chunk (%d bytes left)", l, len(data)-at-fieldLenLen)
		}
		return at + fieldLenLen, l, nil
	}
	for row := range rows {
		start, l, e := value(row)
		if e != nil {
			return nil, e
		}
		if l < 0 {
			s.nulls++
			continue
		}
		if e := d.checkValue(c, s, ci, row, start, data[start:start+l]); e != nil {
			return nil, e
		}
	}
	var all []*memory.Buffer
	defer func() {
		for _, b := range all {
			b.Release()
		}
		if s.bld != nil {
			s.bld.Release()
		}
	}()
	if e := d.alloc(c, s, ci, rows, &all); e != nil {
		return nil, e
	}
	for row := range rows {
		start, l, _ := value(row) // checked above
		if l < 0 {
			s.putNull(row)
			continue
		}
		s.markValid(row)
		if e := d.putValue(c, s, ci, row, start, data[start:start+l]); e != nil {
			return nil, e
		}
	}
	return d.finish(c, s, ci, rows)
}
