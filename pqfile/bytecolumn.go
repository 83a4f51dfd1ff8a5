package pqfile

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// ByteColumn gathers a flat string or binary column (a BYTE_ARRAY column: strings, binaries,
// and extension types stored as either, such as JSON), or a fixed-size binary one (a
// FIXED_LEN_BYTE_ARRAY column: uuid), into PLAIN data pages, batch by batch, for a column the
// Parquet writer would not dictionary-encode: arrow-go's byte-array writers spend most of
// their time there on statistics through interfaces, zeroed buffers and a page compressed at
// a time (its FIXED_LEN_BYTE_ARRAY writer took 0.15 CPU-s per GB of the wide table's COPY for
// one uuid column, H200); ByteColumn writes each value once (a BYTE_ARRAY's 4-byte
// little-endian length, then its bytes), computes the page's exact statistics as it goes (min
// and max byte-wise, unsigned, an empty value included; NULL count), and its pages are
// compressed with the others (RowGroup.AppendPages). Take cuts a page once it holds pageBytes.
// A ByteColumn is used by one goroutine.
type ByteColumn struct {
	nullable  bool
	pageBytes int
	stats     bool // min and max are computed
	maxStats  int  // a min or max longer than this is left out, as arrow-go leaves it out
	values    []byte
	spare     []byte // a values buffer Recycle gave back, for the next page
	valid     []byte // validity bits of the page's rows (nullable columns)
	rows      int
	nulls     int64
	hasMinMax bool
	min, max  []byte // copies
}

// NewByteColumn returns an empty column whose pages are cut once they hold pageBytes of
// values; stats: pages carry min and max (NULL counts always), left out when longer than
// maxStats bytes (the writer properties' MaxStatsSizeFor; 0: no bound).
func NewByteColumn(nullable bool, pageBytes int, stats bool, maxStats int) *ByteColumn {
	return &ByteColumn{nullable: nullable, pageBytes: pageBytes, stats: stats, maxStats: maxStats}
}

// EncodesBytes says whether ByteColumn takes arrays of Arrow type t: strings, binaries, and
// extension types stored as either.
func EncodesBytes(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		t = e.StorageType()
	}
	return t.ID() == arrow.STRING || t.ID() == arrow.BINARY
}

// EncodesFixedBytes says whether ByteColumn takes arrays of Arrow type t as a
// FIXED_LEN_BYTE_ARRAY column: fixed-size binaries, and extension types stored as them (uuid).
// Their statistics are byte-wise, unsigned: Parquet's order for FIXED_LEN_BYTE_ARRAY without a
// signed logical type (UUID's included).
func EncodesFixedBytes(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		t = e.StorageType()
	}
	return t.ID() == arrow.FIXED_SIZE_BINARY
}

// Append adds a's rows (EncodesBytes or EncodesFixedBytes, the column's one type: any
// offset; its values are copied).
func (c *ByteColumn) Append(a arrow.Array) error {
	if e, ok := a.(array.ExtensionArray); ok {
		a = e.Storage()
	}
	var offs []int32
	var data []byte
	var fixed *array.FixedSizeBinary
	switch a := a.(type) {
	case *array.String:
		offs, data = a.ValueOffsets(), a.ValueBytes()
	case *array.Binary:
		offs, data = a.ValueOffsets(), a.ValueBytes()
	case *array.FixedSizeBinary:
		fixed = a
	default:
		return fmt.Errorf("pqfile: a byte-array column of %s", a.DataType())
	}
	n := a.Len()
	nulls := a.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if n == 0 {
		return nil
	}
	var bits []byte
	var off int
	if nulls > 0 {
		bits, off = a.NullBitmapBytes(), a.Data().Offset()
	}
	var base int32
	if fixed != nil { // FIXED_LEN_BYTE_ARRAY: the values back to back
		c.reserve(len(c.values) + fixed.DataType().(*arrow.FixedSizeBinaryType).ByteWidth*(n-nulls))
	} else { // BYTE_ARRAY: each value's 4-byte length, then its bytes
		base = offs[0]
		c.reserve(len(c.values) + 4*(n-nulls) + int(offs[n]-base))
	}
	out := c.values
	for i := range n {
		if bits != nil && !bitutil.BitIsSet(bits, off+i) {
			continue
		}
		var v []byte
		if fixed != nil {
			v = fixed.Value(i)
		} else {
			v = data[offs[i]-base : offs[i+1]-base]
			out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
		}
		out = append(out, v...)
		if c.stats {
			switch {
			case !c.hasMinMax:
				c.min, c.max, c.hasMinMax = append(c.min[:0], v...), append(c.max[:0], v...), true
			case bytes.Compare(v, c.min) < 0:
				c.min = append(c.min[:0], v...)
			case bytes.Compare(v, c.max) > 0:
				c.max = append(c.max[:0], v...)
			}
		}
	}
	c.values = out
	c.appended(bits, off, n, nulls)
	return nil
}

// appended counts n rows whose values are in c.values: their validity (bits from bit off; nil:
// no NULLs) and NULLs.
func (c *ByteColumn) appended(bits []byte, off, n, nulls int) {
	if c.nullable {
		if k := (c.rows+n+7)/8 - len(c.valid); k > 0 {
			c.valid = append(c.valid, make([]byte, k)...)
		}
		if bits == nil {
			bitutil.SetBitsTo(c.valid, int64(c.rows), int64(n), true)
		} else {
			bitutil.CopyBitmap(bits, off, n, c.valid, c.rows)
		}
	}
	c.rows += n
	c.nulls += int64(nulls)
}

// AppendFragment is Append for a (strings or binaries: a BYTE_ARRAY column) whose non-NULL
// values someone else wrote PLAIN, as Append writes them, into frag, and whose smallest and
// largest values (byte-wise) are min and max (unused when every row is NULL): the GPU, with
// the batch's decoding. frag, min and max are copied.
func (c *ByteColumn) AppendFragment(a arrow.Array, frag, min, max []byte) error {
	n, nulls := a.Len(), a.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if n == 0 {
		return nil
	}
	c.reserve(len(c.values) + len(frag))
	c.values = append(c.values, frag...)
	if c.stats && nulls < n {
		if !c.hasMinMax || bytes.Compare(min, c.min) < 0 {
			c.min = append(c.min[:0], min...)
		}
		if !c.hasMinMax || bytes.Compare(max, c.max) > 0 {
			c.max = append(c.max[:0], max...)
		}
		c.hasMinMax = true
	}
	var bits []byte
	if nulls > 0 {
		bits = a.NullBitmapBytes()
	}
	c.appended(bits, a.Data().Offset(), n, nulls)
	return nil
}

// reserve makes c.values hold need bytes: the spare buffer when the page is empty and it is
// large enough, else a page's worth at once (pages are cut at pageBytes: Full), so that a page
// is not copied as it fills: growing by doubling cost 2% of the GPU writer's CPU on the wide
// table.
func (c *ByteColumn) reserve(need int) {
	if len(c.values) == 0 && cap(c.spare) >= need {
		c.values, c.spare = c.spare[:0], nil
	}
	if need > cap(c.values) {
		grown := make([]byte, len(c.values), max(need+need/4, c.pageBytes+c.pageBytes/8))
		copy(grown, c.values)
		c.values = grown
	}
}

// Rows is the rows appended since the last Take.
func (c *ByteColumn) Rows() int { return c.rows }

// Bytes is the values (with their lengths) held since the last Take.
func (c *ByteColumn) Bytes() int { return len(c.values) }

// Full says whether the page holds pageBytes of values.
func (c *ByteColumn) Full() bool { return len(c.values) >= c.pageBytes }

// Take returns the page of the rows appended since the last Take (buffers of its own: Levels
// the definition levels of a nullable column, Data the values PLAIN; Stats the page's), or
// false when there are none. Data is the column's buffer, handed over: Recycle gives it back
// once its bytes are no longer read.
func (c *ByteColumn) Take() (RawPage, bool) {
	if c.rows == 0 {
		return RawPage{}, false
	}
	st := metadata.EncodedStatistics{HasNullCount: true, NullCount: c.nulls}
	if c.hasMinMax && (c.maxStats <= 0 || len(c.min) <= c.maxStats && len(c.max) <= c.maxStats) {
		// Copies, never nil: an empty string is a minimum too.
		st.HasMin, st.HasMax = true, true
		st.Min, st.Max = append([]byte{}, c.min...), append([]byte{}, c.max...)
	}
	p := RawPage{Data: c.values, NumValues: int32(c.rows), Stats: st}
	if c.nullable {
		p.Levels = AppendValidityLevels(make([]byte, 0, 4+binary.MaxVarintLen64+(c.rows+7)/8), c.valid, c.rows)
	}
	c.values = nil // the next Append takes the spare, else a new buffer
	c.valid, c.rows, c.nulls, c.hasMinMax = c.valid[:0], 0, 0, false
	return p, true
}

// Recycle gives back the values buffer of p, a page this column's Take returned, once nobody
// reads its bytes (its compression is done): the next page reuses it. p's bytes must not be
// used after.
func (c *ByteColumn) Recycle(p RawPage) {
	if cap(p.Data) > cap(c.spare) && !sameBuffer(p.Data, c.values) {
		c.spare = p.Data[:0]
	}
}
