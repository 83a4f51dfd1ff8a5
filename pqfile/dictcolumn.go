package pqfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// DictColumn builds the RLE_DICTIONARY data pages of one flat dictionary-encoded column
// (BYTE_ARRAY: strings or binaries) from a row group's batches of dictionary arrays: the
// RLE_DICTIONARY twin of PlainColumn. Append copies a batch's int32 indices (its non-NULL ones,
// compacted) and validity; Take makes the page: the definition levels (nullable: the validity
// bits as one bit-packed run of the RLE/bit-packed hybrid, bit width 1, 4-byte length
// prefixed, as PlainColumn writes them), then the indices as RLE_DICTIONARY data (one byte,
// the bit width of the page's largest index, 0 when it is 0; then the RLE/bit-packed hybrid of
// the non-NULL indices: runs of at least 8 equal indices as RLE runs, the rest bit-packed in
// groups of 8), and the page's exact statistics (NULL count; min and max, compared byte-wise as
// Parquet orders BYTE_ARRAY, of the dictionary entries the page's indices use).
//
// Pages are cut by rows (Full): pageBytes/4 rows, the rows whose int32 indices would take
// pageBytes raw (262144 rows for 1 MiB); encoded, a page of few distinct values is much smaller.
//
// Every batch of a page must carry the same dictionary (the same array, or one sharing its
// data): a page indexes one chunk's dictionary page. Take the page (at the end of the row
// group) before appending a batch of another dictionary. The dictionary is retained until
// another replaces it or Release. A DictColumn is used by one goroutine.
type DictColumn struct {
	nullable bool
	pageRows int

	dict  arrow.Array // retained; nil before the first batch
	entry func(int) []byte
	// seen[k] == epoch: entry k is used by the page being built, and is in used.
	seen  []uint32
	epoch uint32
	used  []int32

	idx   []int32 // the page's non-NULL indices
	valid []byte  // validity bits of the page's rows (nullable columns)
	rows  int
	bits  []byte // scratch: a batch's validity realigned
}

// DictPage is a data page DictColumn makes, uncompressed: its RawPage (definition levels, then
// the indices as RLE_DICTIONARY data; NumValues its rows, NULLs included; Stats the page's) and
// its Encoding, RLE_DICTIONARY. Compressed (CPUPlain.Compress, which labels its pages PLAIN),
// it becomes a Page of Encoding RLE_DICTIONARY for RowGroup.AppendDictPages.
type DictPage struct {
	RawPage
	Encoding parquet.Encoding
}

// NewDictColumn returns an empty column whose pages are cut at pageBytes/4 rows (at least 1).
func NewDictColumn(nullable bool, pageBytes int) *DictColumn {
	return &DictColumn{nullable: nullable, pageRows: max(pageBytes/4, 1), epoch: 1}
}

// Nullable says whether the column is optional (its pages carry definition levels).
func (c *DictColumn) Nullable() bool { return c.nullable }

// Rows is the rows appended since the last Take.
func (c *DictColumn) Rows() int { return c.rows }

// Full says whether the page holds its rows (pageBytes/4).
func (c *DictColumn) Full() bool { return c.rows >= c.pageRows }

// Bytes estimates the encoded size of the page being built: its non-NULL indices at the bit
// width of the dictionary's size, and one bit of definition level per row.
func (c *DictColumn) Bytes() int {
	n := len(c.idx) * bits.Len(uint(max(len(c.seen), 1)-1)) / 8
	if c.nullable {
		n += c.rows / 8
	}
	return n
}

// Dictionary is the dictionary of the batches appended (nil before the first): the array to
// give RowGroup.AppendDictPages with the pages.
func (c *DictColumn) Dictionary() arrow.Array { return c.dict }

// Release drops the dictionary held (and the page being built, if any).
func (c *DictColumn) Release() {
	c.reset()
	if c.dict != nil {
		c.dict.Release()
		c.dict, c.entry, c.seen = nil, nil, nil
	}
}

// Append adds a batch: d's rows (int32 indices, any offset, NULLs where d has them; the
// indices are copied) over d's dictionary (a string or binary array), which must be the one of
// the rows held since the last Take (or any when there are none). On error nothing was
// appended.
func (c *DictColumn) Append(d *array.Dictionary) error {
	idx, ok := d.Indices().(*array.Int32)
	if !ok {
		return fmt.Errorf("pqfile: dictionary indices of %s, not int32", d.Indices().DataType())
	}
	nulls := d.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if err := c.setDictionary(d.Dictionary()); err != nil {
		return err
	}
	n := d.Len()
	if n == 0 {
		return nil
	}
	values := idx.Int32Values()
	start, usedBefore := len(c.idx), len(c.used)
	var valid []byte // the batch's validity from bit 0 (nil: no NULLs)
	if nulls > 0 {
		valid = d.NullBitmapBytes()
		if off := d.Data().Offset(); off%8 != 0 {
			c.bits = growBytes(c.bits, (n+7)/8)
			bitutil.CopyBitmap(valid, off, n, c.bits, 0)
			valid = c.bits
		} else {
			valid = valid[off/8:]
		}
		c.idx = compactValid(c.idx, values, valid, n)
	} else {
		c.idx = append(c.idx, values...)
	}
	// Mark the entries used, checking each index is one of the dictionary's.
	seen, epoch := c.seen, c.epoch
	for _, k := range c.idx[start:] {
		if uint(k) >= uint(len(seen)) {
			for _, u := range c.used[usedBefore:] {
				seen[u] = 0
			}
			c.used, c.idx = c.used[:usedBefore], c.idx[:start]
			return fmt.Errorf("pqfile: dictionary index %d of a dictionary of %d entries", k, len(seen))
		}
		if seen[k] != epoch {
			seen[k] = epoch
			c.used = append(c.used, k)
		}
	}
	if c.nullable {
		c.valid = growBytes(c.valid, (c.rows+n+7)/8)
		if valid == nil {
			bitutil.SetBitsTo(c.valid, int64(c.rows), int64(n), true)
		} else {
			bitutil.CopyBitmap(valid, 0, n, c.valid, c.rows)
		}
	}
	c.rows += n
	return nil
}

// growBytes returns b resized to n bytes, keeping its bytes; the bytes added are zero.
func growBytes(b []byte, n int) []byte {
	if n <= len(b) {
		return b[:n]
	}
	if n <= cap(b) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	return append(b, make([]byte, n-len(b))...)
}

// compactValid appends to dst the values of the n rows whose validity bit (valid, from bit 0)
// is set.
func compactValid(dst, values []int32, valid []byte, n int) []int32 {
	full := n / 8
	for g := range full {
		b := valid[g]
		v := values[g*8 : g*8+8 : g*8+8]
		switch b {
		case 0:
		case 0xff:
			dst = append(dst, v...)
		default:
			for b != 0 {
				dst = append(dst, v[bits.TrailingZeros8(b)])
				b &= b - 1
			}
		}
	}
	for i := full * 8; i < n; i++ {
		if valid[i/8]&(1<<(i%8)) != 0 {
			dst = append(dst, values[i])
		}
	}
	return dst
}

// setDictionary makes dict the dictionary of the rows appended.
func (c *DictColumn) setDictionary(dict arrow.Array) error {
	if c.dict != nil && sameArray(c.dict, dict) {
		return nil
	}
	if c.rows > 0 {
		return fmt.Errorf("pqfile: a batch of another dictionary (%d entries; the page's has %d): take the page first", dict.Len(), c.dict.Len())
	}
	entry, err := dictEntries(dict)
	if err != nil {
		return err
	}
	dict.Retain()
	if c.dict != nil {
		c.dict.Release()
	}
	c.dict, c.entry = dict, entry
	if cap(c.seen) >= dict.Len() {
		c.seen = c.seen[:dict.Len()]
		clear(c.seen)
	} else {
		c.seen = make([]uint32, dict.Len())
	}
	c.epoch, c.used = 1, c.used[:0]
	return nil
}

// Take returns the page of the rows appended since the last Take (a fresh buffer), or false
// when there are none.
func (c *DictColumn) Take() (DictPage, bool) {
	if c.rows == 0 {
		return DictPage{}, false
	}
	maxIdx := int32(0)
	stats := metadata.EncodedStatistics{HasNullCount: true, NullCount: int64(c.rows - len(c.idx))}
	for i, k := range c.used {
		maxIdx = max(maxIdx, k)
		v := c.entry(int(k))
		if i == 0 || bytes.Compare(v, stats.Min) < 0 {
			stats.Min = v
		}
		if i == 0 || bytes.Compare(v, stats.Max) > 0 {
			stats.Max = v
		}
	}
	if len(c.used) > 0 {
		// Copies, never nil: an empty string is a minimum too.
		stats.HasMin, stats.HasMax = true, true
		stats.Min, stats.Max = append([]byte{}, stats.Min...), append([]byte{}, stats.Max...)
	}
	width := bits.Len32(uint32(maxIdx))
	var raw []byte
	size := 1 + hybridBound(len(c.idx), width)
	if c.nullable {
		groups := (c.rows + 7) / 8
		hdr := binary.AppendUvarint(nil, uint64(groups)<<1|1)
		raw = make([]byte, 0, 4+len(hdr)+groups+size)
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len(hdr)+groups))
		raw = append(raw, hdr...)
		raw = append(raw, c.valid[:groups]...)
		if tail := c.rows % 8; tail != 0 {
			raw[len(raw)-1] &= byte(1<<tail - 1) // no bit past the last row
		}
	} else {
		raw = make([]byte, 0, size)
	}
	raw = append(raw, byte(width))
	raw = AppendHybrid(raw, c.idx, width)
	p := DictPage{RawPage: RawPage{Data: raw, NumValues: int32(c.rows), Stats: stats}, Encoding: parquet.Encodings.RLEDict}
	c.reset()
	return p, true
}

// reset empties the page being built.
func (c *DictColumn) reset() {
	c.idx, c.valid, c.rows = c.idx[:0], c.valid[:0], 0
	c.used = c.used[:0]
	c.epoch++
	if c.epoch == 0 { // wrapped: no entry may look seen
		clear(c.seen)
		c.epoch = 1
	}
}

// hybridBound is the most bytes AppendHybrid appends for n values of bit width width, with
// the slack its packing writes past the end: per group of 8 values, its bit-packed bytes or
// an RLE run's value (at most 4 bytes), and a run header (at most 5 bytes) for a run of
// either kind.
func hybridBound(n, width int) int {
	return (n/8+2)*(max(width, 4)+10) + 32
}

// AppendHybrid appends to dst the RLE/bit-packed hybrid encoding (Parquet's, without a length
// prefix or bit width byte) of values, each in [0, 1<<width), width in [0, 32]: at each group
// of 8 values from where the last run ended, 8 or more equal values (or equal values up to the
// end) make an RLE run of all the equal values that follow; other groups are bit-packed, the
// consecutive ones in one run, the last group padded with zeros.
func AppendHybrid(dst []byte, values []int32, width int) []byte {
	n := len(values)
	if n == 0 {
		return dst
	}
	o := len(dst)
	need := o + hybridBound(n, width)
	if cap(dst) < need {
		dst = append(dst[:cap(dst)], make([]byte, need-cap(dst))...)
	}
	out := dst[:need]
	vbytes := (width + 7) / 8
	lit, i := 0, 0 // values[lit:i] wait to be bit-packed, i-lit a multiple of 8
	for i < n {
		v := values[i]
		j := i + 8
		if j <= n {
			g := values[i:j:j]
			if g[1] != v || g[2] != v || g[3] != v || g[4] != v || g[5] != v || g[6] != v || g[7] != v {
				i = j
				continue
			}
		} else {
			j = i + 1
			for j < n && values[j] == v {
				j++
			}
			if j < n {
				i += 8 // a last group of different values: bit-packed
				break
			}
		}
		for j < n && values[j] == v {
			j++
		}
		if lit < i {
			o = packGroups(out, o, values[lit:i], width)
		}
		o += binary.PutUvarint(out[o:], uint64(j-i)<<1)
		for b := range vbytes {
			out[o+b] = byte(uint32(v) >> (8 * b))
		}
		o += vbytes
		i, lit = j, j
	}
	if lit < n {
		o = packGroups(out, o, values[lit:], width)
	}
	return out[:o]
}

// packGroups writes values as one bit-packed run at out[o:] (its header, then groups of 8
// values, the last one padded with zeros) and returns the offset past it. out has the slack of
// hybridBound past the run.
func packGroups(out []byte, o int, values []int32, width int) int {
	groups := (len(values) + 7) / 8
	o += binary.PutUvarint(out[o:], uint64(groups)<<1|1)
	full := len(values) / 8
	w := uint(width)
	if width <= 8 {
		for g := range full {
			x := values[g*8 : g*8+8 : g*8+8]
			u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<w | uint64(uint32(x[2]))<<(2*w) | uint64(uint32(x[3]))<<(3*w) |
				uint64(uint32(x[4]))<<(4*w) | uint64(uint32(x[5]))<<(5*w) | uint64(uint32(x[6]))<<(6*w) | uint64(uint32(x[7]))<<(7*w)
			binary.LittleEndian.PutUint64(out[o:o+8], u)
			o += width
		}
	} else {
		for g := range full {
			o = packWide(out, o, values[g*8:g*8+8:g*8+8], w)
		}
	}
	if rest := values[full*8:]; len(rest) > 0 {
		var x [8]int32
		copy(x[:], rest)
		o = packWide(out, o, x[:], w)
	}
	return o
}

// packWide bit-packs 8 values of any width up to 32 at out[o:] (width bytes, and slack up to
// 32 bytes) and returns the offset past them.
func packWide(out []byte, o int, x []int32, w uint) int {
	var words [5]uint64
	for k := range 8 {
		v := uint64(uint32(x[k]))
		s := uint(k) * w
		words[s/64] |= v << (s % 64)
		if s%64+w > 64 {
			words[s/64+1] |= v >> (64 - s%64)
		}
	}
	for k := range (8*w + 63) / 64 {
		binary.LittleEndian.PutUint64(out[o+8*int(k):], words[k])
	}
	return o + int(w)
}

// dictEntries returns the function giving entry i of a string or binary dictionary (also an
// extension type stored as one) as bytes.
func dictEntries(dict arrow.Array) (func(int) []byte, error) {
	if e, ok := dict.(array.ExtensionArray); ok {
		dict = e.Storage()
	}
	switch a := dict.(type) {
	case *array.String:
		return func(i int) []byte { return []byte(a.Value(i)) }, nil
	case *array.Binary:
		return a.Value, nil
	case *array.LargeString:
		return func(i int) []byte { return []byte(a.Value(i)) }, nil
	case *array.LargeBinary:
		return a.Value, nil
	}
	return nil, fmt.Errorf("pqfile: a dictionary of %s, not strings or binaries", dict.DataType())
}

// plainDictionary is the PLAIN encoding of a dictionary's entries, as a dictionary page holds
// them: each its 4-byte little-endian length then its bytes.
func plainDictionary(dict arrow.Array) ([]byte, error) {
	entry, err := dictEntries(dict)
	if err != nil {
		return nil, err
	}
	if dict.NullN() > 0 {
		return nil, fmt.Errorf("pqfile: a dictionary of %d NULL entries", dict.NullN())
	}
	size := 4 * dict.Len()
	for i := range dict.Len() {
		size += len(entry(i))
	}
	out := make([]byte, 0, size)
	for i := range dict.Len() {
		v := entry(i)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	return out, nil
}

// sameArray says whether a and b are the same array: the same data, or data of one type,
// length and offset over the very same buffers.
func sameArray(a, b arrow.Array) bool {
	if a == b || a.Data() == b.Data() {
		return true
	}
	da, db := a.Data(), b.Data()
	if da.Len() != db.Len() || da.Offset() != db.Offset() || !arrow.TypeEqual(da.DataType(), db.DataType()) {
		return false
	}
	ba, bb := da.Buffers(), db.Buffers()
	if len(ba) != len(bb) {
		return false
	}
	for i := range ba {
		switch {
		case ba[i] == bb[i]:
		case ba[i] == nil || bb[i] == nil || ba[i].Len() != bb[i].Len():
			return false
		case ba[i].Len() > 0 && &ba[i].Bytes()[0] != &bb[i].Bytes()[0]:
			return false
		}
	}
	return true
}

// byteStats merges the statistics of BYTE_ARRAY pages exactly: min and max compared byte-wise
// (an empty value is one; arrow-go's typed statistics drop it), NULL counts summed.
type byteStats struct {
	noStats, nullsUnknown bool
	st                    metadata.EncodedStatistics
}

// merge adds e, the statistics of a call's pages.
func (s *byteStats) merge(e metadata.EncodedStatistics, rows int64) error {
	if !e.IsSet() {
		s.noStats = true
		return nil
	}
	if e.HasMin != e.HasMax {
		return fmt.Errorf("a minimum without a maximum or the reverse (min %t, max %t)", e.HasMin, e.HasMax)
	}
	if e.HasNullCount {
		if e.NullCount < 0 || e.NullCount > rows {
			return fmt.Errorf("%d NULLs in %d rows", e.NullCount, rows)
		}
		s.st.NullCount += e.NullCount
	} else {
		s.nullsUnknown = true
	}
	if e.HasMin {
		if !s.st.HasMin || bytes.Compare(e.Min, s.st.Min) < 0 {
			s.st.Min = append([]byte{}, e.Min...)
		}
		if !s.st.HasMax || bytes.Compare(e.Max, s.st.Max) > 0 {
			s.st.Max = append([]byte{}, e.Max...)
		}
		s.st.HasMin, s.st.HasMax = true, true
	}
	return nil
}

// encoded is the merged statistics (none if a call came without any).
func (s *byteStats) encoded() metadata.EncodedStatistics {
	if s.noStats {
		return metadata.EncodedStatistics{}
	}
	st := s.st
	st.HasNullCount = !s.nullsUnknown
	if s.nullsUnknown {
		st.NullCount = 0
	}
	return st
}
