package gpuparse

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/pgcopy"
)

// DecodeColumnAt decodes column col of chunk c alone, from the position of each of its fields:
// fieldStarts[row] is the chunk offset of the row's int32 length word. It is DecodeColumnsAt
// for one column.
func (d *CPUDecoder) DecodeColumnAt(c *pgcopy.Chunk, col int, fieldStarts []int32) (arrow.Array, error) {
	arrs, err := d.DecodeColumnsAt(c, []int{col}, [][]int32{fieldStarts})
	if err != nil {
		return nil, err
	}
	return arrs[0], nil
}

// DecodeColumnsAt decodes columns cols of chunk c, from the position of each of their fields:
// fieldStarts[k][row] is the chunk offset of the row's int32 length word in column cols[k]. It
// is the entry a decoder that walks the tuples itself (the GPU decoder) uses for the columns it
// has no kernel for (pgarrow.KindInfo.GPU false), so that those columns cost the CPU only their
// own values, not a walk of the whole chunk. The columns are read together, row by row (once
// to check every value, once to decode them), so a row's bytes are read while they are in the
// cache, rather than the whole chunk once per column.
//
// The result is the columns Decode would give, bit for bit, allocated from the decoder's
// allocator; the caller releases them. Every position and length is checked again (they come
// from another program), and a value the CPU decoder rejects gives its *pgcopy.DecodeError;
// the caller then decodes the whole chunk with Decode, whose row-order walk decides which error
// is the first. Like Decode, it may be called from any number of goroutines at once.
func (d *CPUDecoder) DecodeColumnsAt(c *pgcopy.Chunk, cols []int, fieldStarts [][]int32) (arrs []arrow.Array, err error) {
	defer func() {
		if p := recover(); p != nil {
			for _, a := range arrs {
				if a != nil {
					a.Release()
				}
			}
			arrs, err = nil, fmt.Errorf("gpuparse: cpu decoder: internal error: %v", p)
		}
	}()
	if d.err != nil {
		return nil, d.err
	}
	if len(fieldStarts) != len(cols) {
		return nil, fmt.Errorf("gpuparse: cpu decoder: %d columns and %d lists of field positions", len(cols), len(fieldStarts))
	}
	if len(cols) == 0 {
		return nil, nil
	}
	rows := len(fieldStarts[0])
	states := make([]*colState, len(cols))
	for k, ci := range cols {
		if ci < 0 || ci >= len(d.plans) {
			return nil, fmt.Errorf("gpuparse: cpu decoder: column %d of %d", ci, len(d.plans))
		}
		if len(fieldStarts[k]) != rows {
			return nil, fmt.Errorf("gpuparse: cpu decoder: %d field positions of column %d for %d rows", len(fieldStarts[k]), ci, rows)
		}
		states[k] = &colState{colPlan: d.plans[ci]}
	}
	data := c.Data
	// value returns where the row's value of column k starts and its length (-1: NULL),
	// checked against the chunk and the column's fixed width.
	value := func(k, row int) (int, int, *pgcopy.DecodeError) {
		s, ci := states[k], cols[k]
		at := int(fieldStarts[k][row])
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
		for k, s := range states {
			start, l, e := value(k, row)
			if e != nil {
				return nil, e
			}
			if l < 0 {
				s.nulls++
				continue
			}
			if e := d.checkValue(c, s, cols[k], row, start, data[start:start+l]); e != nil {
				return nil, e
			}
		}
	}
	var all []*memory.Buffer
	defer func() {
		for _, b := range all {
			b.Release()
		}
		for _, s := range states {
			if s.bld != nil {
				s.bld.Release()
			}
		}
	}()
	for k, s := range states {
		if e := d.alloc(c, s, cols[k], rows, &all); e != nil {
			return nil, e
		}
	}
	for row := range rows {
		for k, s := range states {
			start, l, _ := value(k, row) // checked above
			if l < 0 {
				s.putNull(row)
				continue
			}
			s.markValid(row)
			if e := d.putValue(c, s, cols[k], row, start, data[start:start+l]); e != nil {
				return nil, e
			}
		}
	}
	arrs = make([]arrow.Array, len(cols))
	for k, s := range states {
		a, err := d.finish(c, s, cols[k], rows)
		if err != nil {
			for _, a := range arrs[:k] {
				a.Release()
			}
			return nil, err
		}
		arrs[k] = a
	}
	return arrs, nil
}
