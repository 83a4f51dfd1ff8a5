//go:build cgo && linux

package device

/*
#include <stdint.h>
#include "cuda/pgpq_abi.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// fusePlan is what pgpq_finish_fused computes for one column while a PageEncoder is open: the
// page encoder's PLAIN fragment and statistics for a fixed-width column it encodes (plain, as
// encColOf describes it); for a string or binary column (uniq), its PLAIN fragment once a
// file writes it so (PageEncoder.PlainBytes), else its grouping by value, which lanes'
// dictionaries use, unless noGroup (an extension type such as JSON, never dictionary-encoded
// by the lanes); or nothing.
type fusePlan struct {
	plain   bool
	enc     encCol // kind, width, outWidth
	uniq    bool
	noGroup bool
}

// planFused plans each column of d (see fusePlan): GPU-decoded columns only, lists excluded.
func planFused(d *gpuDecoder) []fusePlan {
	plans := make([]fusePlan, len(d.cols))
	for i, c := range d.cols {
		if !d.onGPU[i] || d.lists[i] != nil {
			continue
		}
		t := d.types[i]
		storage := t
		if e, ok := t.(arrow.ExtensionType); ok {
			storage = e.StorageType()
		}
		switch {
		case storage.ID() == arrow.STRING || storage.ID() == arrow.BINARY:
			plans[i].uniq = c.Kind.Info().VarLen || d.numText[i]
			plans[i].noGroup = storage != t
		default:
			if e, ok := encColType(t); ok && e.widthsOK() {
				plans[i] = fusePlan{plain: true, enc: e}
			}
		}
	}
	return plans
}

// fuseOpBytes is pgpq_fuse_col's PGPQ_FUSE_BYTES, for tests.
const fuseOpBytes = C.PGPQ_FUSE_BYTES

// fuseAlign is the alignment of each result in the host buffer.
const fuseAlign = 64

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// fusedLayout lays out the results of the planned columns of a chunk of rows rows whose
// columns have nulls NULLs and varBytes bytes, in one host buffer: per plain column 64 bytes
// of statistics, and its fragment unless its Arrow values are it (no NULL,
// encCol.plainIsArrow); per string column that plainBytes(i) says is written PLAIN, 16 bytes
// of statistics and room for its fragment (4 bytes a row and its bytes); per other string
// column rows int32 group ids, the collided and group count int32s and room for rows int32
// first rows (pgpq_fuse_col). It returns the call's column descriptions and the buffer's size.
func fusedLayout(plans []fusePlan, rows int, nulls, varBytes []int64, plainBytes func(int) bool) ([]C.pgpq_fuse_col, int) {
	var out []C.pgpq_fuse_col
	at := 0
	for i, p := range plans {
		switch {
		case p.plain:
			f := C.pgpq_fuse_col{col: C.int32_t(i), op: C.PGPQ_FUSE_PLAIN, kind: C.int32_t(p.enc.kind), width: C.int32_t(p.enc.width),
				out_width: C.int32_t(p.enc.outWidth), stats: C.int64_t(at), frag: -1}
			at += fuseAlign
			if nulls[i] > 0 || !p.enc.plainIsArrow() {
				f.frag = C.int64_t(at)
				at = alignUp(at+rows*p.enc.plainWidth(), fuseAlign)
			}
			out = append(out, f)
		case p.uniq && plainBytes(i):
			f := C.pgpq_fuse_col{col: C.int32_t(i), op: C.PGPQ_FUSE_BYTES, stats: C.int64_t(at), frag: C.int64_t(at + fuseAlign)}
			at = alignUp(at+fuseAlign+4*rows+int(varBytes[i]), fuseAlign)
			out = append(out, f)
		case p.uniq && !p.noGroup:
			out = append(out, C.pgpq_fuse_col{col: C.int32_t(i), op: C.PGPQ_FUSE_UNIQ, first: C.int64_t(at)})
			at = alignUp(at+8*rows+8, fuseAlign)
		}
	}
	return out, at
}

// fusedColumns reads the results of fuse from host (the call's buffer) for the batch's arrays
// arrs of rows rows (planned as plans say): the columns and the keys to register them under. A plain column whose
// decimal does not fit its FIXED_LEN_BYTE_ARRAY is left out (the page encoder then meets the
// error itself).
func fusedColumns(plans []fusePlan, fuse []C.pgpq_fuse_col, host []byte, arrs []arrow.Array, rows int, varBytes []int64) ([]arrow.ArrayData, []*fusedColumn, error) {
	keys := make([]arrow.ArrayData, 0, len(fuse))
	cols := make([]*fusedColumn, 0, len(fuse))
	for _, f := range fuse {
		a := arrs[int(f.col)]
		switch f.op {
		case C.PGPQ_FUSE_PLAIN:
			st := host[int(f.stats):][:fuseAlign]
			size := int(binary.LittleEndian.Uint64(st[0:]))
			nulls := int64(binary.LittleEndian.Uint64(st[8:]))
			has := st[48]
			if has == 2 {
				continue
			}
			pw := plans[f.col].enc.plainWidth()
			if nulls != int64(a.NullN()) || size != (rows-a.NullN())*pw {
				return nil, nil, fmt.Errorf("fused page encoder: column %d: %d bytes and %d NULLs for %d rows with %d NULLs", f.col, size, nulls, rows, a.NullN())
			}
			c := &fusedColumn{op: fusedPlain, rows: rows,
				stats: metadata.EncodedStatistics{HasNullCount: true, NullCount: nulls}}
			if f.frag >= 0 {
				c.frag = host[int(f.frag):][:size]
			} else if size > 0 {
				c.frag = a.Data().Buffers()[1].Bytes()[:size]
			}
			if has == 1 {
				c.stats.HasMin, c.stats.HasMax = true, true
				c.stats.Min, c.stats.Max = st[16:16+pw], st[32:32+pw]
			}
			keys, cols = append(keys, a.Data()), append(cols, c)
		case C.PGPQ_FUSE_BYTES:
			st := host[int(f.stats):][:16]
			size := int(binary.LittleEndian.Uint64(st[0:]))
			lo, hi := int32(binary.LittleEndian.Uint32(st[8:])), int32(binary.LittleEndian.Uint32(st[12:]))
			room := 4*rows + int(varBytes[f.col])
			if size < 0 || size > room || lo < -1 || hi < -1 || int(lo) >= rows || int(hi) >= rows || (lo < 0) != (a.NullN() == rows) {
				return nil, nil, fmt.Errorf("fused byte arrays: column %d: %d bytes (room %d), min row %d, max row %d of %d rows with %d NULLs",
					f.col, size, room, lo, hi, rows, a.NullN())
			}
			c := &fusedColumn{op: fusedBytes, rows: rows, frag: host[int(f.frag):][:size], minRow: lo, maxRow: hi}
			keys, cols = append(keys, a.Data()), append(cols, c)
		case C.PGPQ_FUSE_UNIQ:
			b := host[int(f.first):][:8*rows+8]
			c := &fusedColumn{op: fusedUniq, rows: rows, collided: binary.LittleEndian.Uint32(b[4*rows:]) != 0}
			groups := int(int32(binary.LittleEndian.Uint32(b[4*rows+4:])))
			if !c.collided && (groups < 0 || groups > rows) {
				return nil, nil, fmt.Errorf("fused grouping: column %d: %d groups of %d rows", f.col, groups, rows)
			}
			if rows > 0 && !c.collided {
				c.ids = unsafe.Slice((*int32)(unsafe.Pointer(&b[0])), rows)
				c.firsts = unsafe.Slice((*int32)(unsafe.Pointer(&b[4*rows+8])), groups)
			}
			keys, cols = append(keys, a.Data()), append(cols, c)
		}
	}
	return keys, cols, nil
}

// fusedArena returns pinned memory for a chunk's fused results of size bytes, as a buffer
// whose release gives it back to pinned, or nil where pinned memory ran out.
func fusedArena(pinned *pinnedAllocator, size int) *memory.Buffer {
	b, ok := pinned.tryAllocate(max(size, 1))
	if !ok {
		return nil
	}
	return memory.NewBufferWithAllocator(b, pinned)
}
