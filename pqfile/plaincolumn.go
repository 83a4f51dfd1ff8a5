package pqfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// PlainColumn builds the PLAIN data pages of one flat fixed-width column from fragments: a
// batch's non-NULL values in their PLAIN form, compacted, with the batch's validity and the
// statistics of its values (what the GPU writer's encoder returns for a batch, or PlainFragment
// on the CPU). Batches are much smaller than a data page should be (a page of a few tens of
// thousands of values compresses worse than arrow-go's 1 MiB pages), so fragments accumulate
// until the page holds pageBytes of values; Take then makes the page: the definition levels
// (nullable: the validity bits as one bit-packed run of the RLE/bit-packed hybrid, bit width 1,
// 4-byte length prefixed), the values, and the page's statistics merged exactly from the
// fragments'. A PlainColumn is used by one goroutine.
//
// Buffers: the values accumulate in a buffer sized once for a whole page (pageBytes and a
// fragment), which Take hands over with the page as it is (no copy); Recycle gives a taken
// page's buffers back once its bytes are no longer used, and the next pages reuse them. A
// caller that takes a page and recycles it before the next Append (the GPU writer's
// flushPages, after compressing it) so allocates no page buffer in steady state, and the column
// holds one values buffer. Pages cut sooner than pageBytes (at the end of each row group) want
// SetMaxRows: the buffers are then sized by the rows a row group holds.
type PlainColumn struct {
	nullable  bool
	pageBytes int
	merge     statsMerger
	values    []byte // the values appended since the last Take; the column's own
	valid     []byte // validity bits of the rows appended (nullable columns); kept across pages
	spare     []byte // a values buffer Recycle gave back, nobody else's, for the next page
	levels    []byte // a levels buffer Recycle gave back, nobody else's, for the next page
	rows      int
	stats     metadata.EncodedStatistics
	alloc     memory.Allocator // of the values buffers; nil: Go memory
	maxRows   int              // the most rows a page gets (SetMaxRows); 0: not bounded
}

// maxPagePrealloc bounds the values buffer a column allocates at once for a page (tests use
// pages of up to 1 GiB, cut by the end of their rows): larger pages grow as they fill.
const maxPagePrealloc = 4 << 20

// NewPlainColumn returns an empty column of Arrow type t (EncodesPlain) whose pages are cut
// once they hold pageBytes of values.
func NewPlainColumn(t arrow.DataType, nullable bool, pageBytes int) (*PlainColumn, error) {
	m, err := newStatsMerger(t)
	if err != nil {
		return nil, err
	}
	c := &PlainColumn{nullable: nullable, pageBytes: pageBytes, merge: m}
	c.reset()
	return c, nil
}

// reset starts a page: no rows, the values in c.values's storage (the column's own).
func (c *PlainColumn) reset() {
	c.values, c.valid, c.rows = c.values[:0], c.valid[:0], 0
	c.stats = metadata.EncodedStatistics{HasNullCount: true}
}

// SetAllocator makes the column's values buffers come from a (pinned memory, that the GPU
// copies fragments into at full speed: Reserve) instead of Go memory. Call it before the
// first Append; Release then gives the buffers back to a.
func (c *PlainColumn) SetAllocator(a memory.Allocator) { c.alloc = a }

// SetMaxRows says that no page gets more than n rows (the caller takes every page at the end
// of a row group of at most n rows): pages are cut at n values' bytes when that is less than
// pageBytes, and a page buffer of n values then holds any page, so it is sized so, without
// room for a fragment past pageBytes. Call it before the first Append.
func (c *PlainColumn) SetMaxRows(n int) {
	c.maxRows = n
	if all := n * c.merge.width; n > 0 && all < c.pageBytes {
		c.pageBytes = all
	}
}

// Append adds a fragment of rows rows: values (its non-NULL values, PLAIN, copied here), the
// rows' validity (an Arrow bitmap starting at bit offset; nil: no NULLs) and the values'
// statistics (NULL count, min and max as PlainFragment computes them; copied too). The caller
// keeps values, valid and stats.
func (c *PlainColumn) Append(values []byte, valid []byte, offset, rows int, stats metadata.EncodedStatistics) error {
	if stats.NullCount > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", stats.NullCount)
	}
	if len(c.values)+len(values) > cap(c.values) {
		c.grow(len(values))
	}
	c.values = append(c.values, values...)
	c.appended(valid, offset, rows, stats)
	return nil
}

// Reserve returns room for n bytes of values after those of the page being gathered, in the
// column's own buffer, for an encoder that writes a fragment there itself (the GPU, into
// pinned memory: SetAllocator); AppendReserved then adds it without a copy. The room is the
// caller's to write until the column's next call.
func (c *PlainColumn) Reserve(n int) []byte {
	if len(c.values)+n > cap(c.values) {
		c.grow(n)
	}
	return c.values[len(c.values) : len(c.values)+n : len(c.values)+n]
}

// AppendReserved is Append of a fragment whose n bytes of values the caller wrote at the start
// of the room Reserve returned (n at most its size).
func (c *PlainColumn) AppendReserved(n int, valid []byte, offset, rows int, stats metadata.EncodedStatistics) error {
	if stats.NullCount > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", stats.NullCount)
	}
	if n < 0 || len(c.values)+n > cap(c.values) {
		return fmt.Errorf("pqfile: a reserved fragment of %d bytes after %d, in a buffer of %d", n, len(c.values), cap(c.values))
	}
	c.values = c.values[:len(c.values)+n]
	c.appended(valid, offset, rows, stats)
	return nil
}

// appended adds the rows of a fragment whose values are in c.values: their validity and
// statistics (see Append).
func (c *PlainColumn) appended(valid []byte, offset, rows int, stats metadata.EncodedStatistics) {
	if c.nullable {
		if n := (c.rows+rows+7)/8 - len(c.valid); n > 0 {
			c.valid = append(c.valid, make([]byte, n)...) // zeroed, in place once c.valid is grown
		}
		if valid == nil {
			bitutil.SetBitsTo(c.valid, int64(c.rows), int64(rows), true)
		} else {
			bitutil.CopyBitmap(valid, offset, rows, c.valid, c.rows)
		}
	}
	c.rows += rows
	c.stats = c.merge.merge(c.stats, stats)
}

// grow makes room in c.values for n more bytes: the spare buffer Recycle gave back when the
// page is empty and it is large enough, else a new buffer for the whole page and a fragment of
// n bytes more (a page is cut after the fragment that fills it; one that outgrows its buffer,
// its last fragment larger than its first, gets room for one more), pages larger than
// maxPagePrealloc twice the old as they fill; the values so far copied.
func (c *PlainColumn) grow(n int) {
	need := len(c.values) + n
	if len(c.values) == 0 && cap(c.spare) >= need {
		c.values, c.spare = c.spare[:0], nil
		return
	}
	size := max(need, min(c.pageBytes, maxPagePrealloc)) + n
	if c.pageBytes > maxPagePrealloc {
		size = max(size, 2*cap(c.values))
	}
	if all := c.maxRows * c.merge.width; c.maxRows > 0 && all >= need && all <= size {
		size = all // every page fits
	}
	var buf []byte
	if c.alloc != nil {
		buf = c.alloc.Allocate(size)[:len(c.values)]
	} else {
		buf = make([]byte, len(c.values), size)
	}
	copy(buf, c.values)
	c.free(c.values)
	c.values = buf
}

// free gives b, a values buffer of the column's own that nobody else holds, back to the
// column's allocator.
func (c *PlainColumn) free(b []byte) {
	if c.alloc != nil && cap(b) > 0 {
		c.alloc.Free(b[:cap(b)])
	}
}

// Release gives the column's values buffers back to its allocator (SetAllocator); pages taken
// and not given back with Recycle are the caller's to free. The column must not be used after.
func (c *PlainColumn) Release() {
	c.free(c.values)
	c.free(c.spare)
	c.values, c.spare = nil, nil
}

// Rows is the rows appended since the last Take.
func (c *PlainColumn) Rows() int { return c.rows }

// Bytes is the values held since the last Take.
func (c *PlainColumn) Bytes() int { return len(c.values) }

// Full says whether the page holds pageBytes of values.
func (c *PlainColumn) Full() bool { return len(c.values) >= c.pageBytes }

// Take returns the page of the rows appended since the last Take, or false when there are
// none. The page owns its buffers: Data is the column's values buffer as it is (not copied),
// Levels (nullable columns) a buffer of its own; the column starts its next page in other
// buffers (the ones Recycle gave back, else new ones), so the page's bytes stay as they are
// until the caller gives them back with Recycle.
func (c *PlainColumn) Take() (RawPage, bool) {
	if c.rows == 0 {
		return RawPage{}, false
	}
	p := RawPage{Data: c.values, NumValues: int32(c.rows), Stats: c.stats, FixedWidth: true}
	if c.nullable {
		lv := c.levels[:0]
		if need := 4 + binary.MaxVarintLen64 + (c.rows+7)/8; cap(lv) < need {
			lv = make([]byte, 0, need+need/8) // room for pages of a few more rows
		}
		p.Levels, c.levels = AppendValidityLevels(lv, c.valid, c.rows), nil
	}
	c.values = nil // the next Append takes the spare (the buffer Recycle gives back), else a new one
	c.reset()      // new statistics: the page's min and max are the page's
	return p, true
}

// Recycle gives back the buffers of p, a page this column's Take returned, once nobody uses
// its bytes any more (CPUPlain.Compress has returned: its Pages hold bytes of their own). The
// column's next pages reuse them. A page is given back at most once, and p's bytes must not be
// read or written after; a page never given back simply costs its column new buffers.
func (c *PlainColumn) Recycle(p RawPage) {
	if !sameBuffer(p.Data, c.values) && !sameBuffer(p.Data, c.spare) {
		if cap(p.Data) > cap(c.spare) {
			c.free(c.spare)
			c.spare = p.Data[:0]
		} else {
			c.free(p.Data)
		}
	}
	if cap(p.Levels) > cap(c.levels) && !sameBuffer(p.Levels, c.levels) {
		c.levels = p.Levels[:0]
	}
}

// sameBuffer says whether a and b start at the same byte of the same array (a page given back
// twice, whose buffer the column holds already).
func sameBuffer(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}

// PlainFragment is the CPU twin of the GPU writer's encoder for one batch of a column: a's
// non-NULL values PLAIN, compacted (int16 widened to INT32; decimal128 big-endian in its
// precision's FIXED_LEN_BYTE_ARRAY size, refused when a value does not fit), and their
// statistics (NULL count; min and max, NaN left out, a zero min -0.0 and a zero max +0.0).
func PlainFragment(a arrow.Array) ([]byte, metadata.EncodedStatistics, error) {
	pages, stats, err := plainPages(a, false, max(a.Len(), 1))
	if err != nil {
		return nil, metadata.EncodedStatistics{}, err
	}
	return pages[0].Data, stats, nil
}

// PlainWidth is the bytes of one PLAIN value of Arrow type t (EncodesPlain: int16 widened to
// 4, decimal128 its precision's FIXED_LEN_BYTE_ARRAY size), or 0 for a type PlainColumn does
// not take.
func PlainWidth(t arrow.DataType) int {
	m, err := newStatsMerger(t)
	if err != nil {
		return 0
	}
	return m.width
}

// statsMerger merges the statistics of fragments (and pages) of one column type exactly.
type statsMerger struct {
	width   int
	float   bool
	decimal bool
}

func newStatsMerger(t arrow.DataType) (statsMerger, error) {
	if !EncodesPlain(t) {
		return statsMerger{}, fmt.Errorf("pqfile: %s is not a fixed-width type PlainColumn takes", t)
	}
	m := statsMerger{width: t.(arrow.FixedWidthDataType).Bytes()}
	switch t := t.(type) {
	case *arrow.Float32Type, *arrow.Float64Type:
		m.float = true
	case *arrow.Decimal128Type:
		m.decimal, m.width = true, int(pqarrow.DecimalSize(t.Precision))
	case *arrow.Int16Type:
		m.width = 4
	}
	return m, nil
}

// less says whether the PLAIN value a is below b.
func (m statsMerger) less(a, b []byte) bool {
	switch {
	case m.decimal: // big-endian two's complement of one width: the first byte signed
		if a[0] != b[0] {
			return int8(a[0]) < int8(b[0])
		}
		return bytes.Compare(a[1:], b[1:]) < 0
	case m.float && m.width == 4:
		return math.Float32frombits(binary.LittleEndian.Uint32(a)) < math.Float32frombits(binary.LittleEndian.Uint32(b))
	case m.float:
		return math.Float64frombits(binary.LittleEndian.Uint64(a)) < math.Float64frombits(binary.LittleEndian.Uint64(b))
	case m.width == 4:
		return int32(binary.LittleEndian.Uint32(a)) < int32(binary.LittleEndian.Uint32(b))
	}
	return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
}

// merge returns the statistics of acc's values and p's: NULL counts summed, the min of the
// minimums and the max of the maximums (NaN is never one; -0.0 and +0.0 as PlainPages writes
// them survive). p's min and max are copied, into acc's own (those of an earlier merge, which
// acc must not share) when it has them.
func (m statsMerger) merge(acc, p metadata.EncodedStatistics) metadata.EncodedStatistics {
	acc.NullCount += p.NullCount
	if !p.HasMin {
		return acc
	}
	if !acc.HasMin {
		acc.HasMin, acc.HasMax = true, true
		acc.Min, acc.Max = bytes.Clone(p.Min), bytes.Clone(p.Max)
		return acc
	}
	if m.less(p.Min, acc.Min) {
		acc.Min = append(acc.Min[:0], p.Min...)
	}
	if m.less(acc.Max, p.Max) {
		acc.Max = append(acc.Max[:0], p.Max...)
	}
	return acc
}

// Nullable says whether the column is optional (its pages carry definition levels).
func (c *PlainColumn) Nullable() bool { return c.nullable }
