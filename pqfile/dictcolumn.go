package pqfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

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

	ix    dictIndices
	valid []byte // validity bits of the page's rows (nullable columns)
	rows  int
}

// dictIndices gathers the indices of one page of dictionary-encoded values (DictColumn's, and
// ListColumn's elements): the non-NULL ones, compacted, and which entries of the dictionary
// they use, marked as they come (no value is compared per row), for the page's statistics.
// It is used by one goroutine.
type dictIndices struct {
	dict  arrow.Array // retained; nil before the first batch
	entry func(int) []byte
	// seen[k] == epoch: entry k is used by the page being built, and is in used.
	seen  []uint32
	epoch uint32
	used  []int32

	idx  []int32 // the page's non-NULL indices
	bits []byte  // scratch: a batch's validity realigned
}

// NewDictColumn returns an empty column whose pages are cut at pageBytes/4 rows (at least 1).
func NewDictColumn(nullable bool, pageBytes int) *DictColumn {
	return &DictColumn{nullable: nullable, pageRows: max(pageBytes/4, 1), ix: dictIndices{epoch: 1}}
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
	n := c.ix.bytes()
	if c.nullable {
		n += c.rows / 8
	}
	return n
}

// Dictionary is the dictionary of the batches appended (nil before the first): the array to
// give RowGroup.AppendDictPages with the pages.
func (c *DictColumn) Dictionary() arrow.Array { return c.ix.dict }

// Release drops the dictionary held (and the page being built, if any).
func (c *DictColumn) Release() {
	c.reset()
	c.ix.release()
}

// Append adds a batch: d's rows (int32 indices, any offset, NULLs where d has them; the
// indices are copied) over d's dictionary (a string or binary array without NULLs), which must
// be the one of the rows held since the last Take (or any when there are none). On error
// nothing was appended.
func (c *DictColumn) Append(d *array.Dictionary) error {
	idx, ok := d.Indices().(*array.Int32)
	if !ok {
		return fmt.Errorf("pqfile: dictionary indices of %s, not int32", d.Indices().DataType())
	}
	nulls := d.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if err := c.ix.setDictionary(d.Dictionary(), c.rows > 0); err != nil {
		return err
	}
	n := d.Len()
	if n == 0 {
		return nil
	}
	var bitmap []byte
	if nulls > 0 {
		bitmap = d.NullBitmapBytes()
	}
	valid, err := c.ix.add(idx.Int32Values(), bitmap, d.Data().Offset())
	if err != nil {
		return err
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

// add appends the non-NULL ones of values (a batch's indices) to the page, their validity the
// bits of bitmap from bit offset (nil: no NULLs), and returns that validity from bit 0 (nil
// without NULLs; valid until the next add). On error (an index that is not one of the
// dictionary's) nothing was added.
func (x *dictIndices) add(values []int32, bitmap []byte, offset int) ([]byte, error) {
	n := len(values)
	start := len(x.idx)
	var valid []byte
	var err error
	if bitmap != nil {
		valid = bitmap
		if offset%8 != 0 {
			x.bits = growBytes(x.bits, (n+7)/8)
			bitutil.CopyBitmap(bitmap, offset, n, x.bits, 0)
			valid = x.bits
		} else {
			valid = valid[offset/8:]
		}
		x.idx = compactValid(x.idx, values, valid, n)
		err = x.markUsed(x.idx[start:], nil)
	} else {
		x.idx = slices.Grow(x.idx, n)[:start+n]
		err = x.markUsed(values, x.idx[start:])
	}
	if err != nil {
		x.idx = x.idx[:start]
		return nil, err
	}
	return valid, nil
}

// bytes estimates the page's indices encoded: each at the bit width of the dictionary's size.
func (x *dictIndices) bytes() int {
	return len(x.idx) * bits.Len(uint(max(len(x.seen), 1)-1)) / 8
}

// release drops the dictionary held.
func (x *dictIndices) release() {
	if x.dict != nil {
		x.dict.Release()
		x.dict, x.entry, x.seen = nil, nil, nil
	}
}

// markUsed marks the dictionary entries idx uses (and copies idx to dst, unless nil), or
// fails, marking none, when an index is not one of the dictionary's.
func (x *dictIndices) markUsed(idx, dst []int32) error {
	seen, epoch := x.seen, x.epoch
	n := uint32(len(seen))
	if n <= 64 {
		// Few entries: the set used as a bit mask, no branch per index; any index of 64 or
		// more (or negative) shows in or, any other past the dictionary in the mask.
		var m0, m1 uint64
		var or0, or1 uint32
		k := 0
		if dst != nil {
			dst = dst[:len(idx)]
			for ; k+2 <= len(idx); k += 2 {
				a, b := uint32(idx[k]), uint32(idx[k+1])
				dst[k], dst[k+1] = int32(a), int32(b)
				m0 |= 1 << (a & 63)
				m1 |= 1 << (b & 63)
				or0 |= a
				or1 |= b
			}
			if k < len(idx) {
				dst[k] = idx[k]
			}
		} else {
			for ; k+2 <= len(idx); k += 2 {
				a, b := uint32(idx[k]), uint32(idx[k+1])
				m0 |= 1 << (a & 63)
				m1 |= 1 << (b & 63)
				or0 |= a
				or1 |= b
			}
		}
		if k < len(idx) {
			a := uint32(idx[k])
			m0 |= 1 << (a & 63)
			or0 |= a
		}
		m := m0 | m1
		if or0|or1 >= 64 || m>>n != 0 {
			for _, k := range idx {
				if uint32(k) >= n {
					return fmt.Errorf("pqfile: dictionary index %d of a dictionary of %d entries", k, n)
				}
			}
		}
		for ; m != 0; m &= m - 1 {
			if k := bits.TrailingZeros64(m); seen[k] != epoch {
				seen[k] = epoch
				x.used = append(x.used, int32(k))
			}
		}
		return nil
	}
	if dst != nil {
		copy(dst, idx)
	}
	before := len(x.used)
	for _, k := range idx {
		if uint32(k) >= n {
			for _, u := range x.used[before:] {
				seen[u] = 0
			}
			x.used = x.used[:before]
			return fmt.Errorf("pqfile: dictionary index %d of a dictionary of %d entries", k, n)
		}
		if seen[k] != epoch {
			seen[k] = epoch
			x.used = append(x.used, k)
		}
	}
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
// is set: without a branch per row, each row's value stored where the next non-NULL one goes.
func compactValid(dst, values []int32, valid []byte, n int) []int32 {
	start := len(dst)
	dst = slices.Grow(dst, n)
	out := dst[start : start+n]
	w := 0
	full := n / 8
	for g := range full {
		b := uint(valid[g])
		x := (*[8]int32)(values[g*8 : g*8+8])
		out[w] = x[0] // w <= g*8+k < n at row k of the group
		w += int(b & 1)
		out[w] = x[1]
		w += int(b >> 1 & 1)
		out[w] = x[2]
		w += int(b >> 2 & 1)
		out[w] = x[3]
		w += int(b >> 3 & 1)
		out[w] = x[4]
		w += int(b >> 4 & 1)
		out[w] = x[5]
		w += int(b >> 5 & 1)
		out[w] = x[6]
		w += int(b >> 6 & 1)
		out[w] = x[7]
		w += int(b >> 7 & 1)
	}
	for i := full * 8; i < n; i++ {
		if valid[i/8]&(1<<(i%8)) != 0 {
			out[w] = values[i]
			w++
		}
	}
	return dst[:start+w]
}

// setDictionary makes dict the dictionary of the indices added; held: the page has rows (of
// the dictionary held, which then stays).
func (x *dictIndices) setDictionary(dict arrow.Array, held bool) error {
	if x.dict != nil && sameArray(x.dict, dict) {
		return nil
	}
	if held {
		return fmt.Errorf("pqfile: a batch of another dictionary (%d entries; the page's has %d): take the page first", dict.Len(), x.dict.Len())
	}
	entry, err := dictEntries(dict)
	if err != nil {
		return err
	}
	if dict.NullN() > 0 {
		return fmt.Errorf("pqfile: a dictionary of %d NULL entries", dict.NullN())
	}
	dict.Retain()
	if x.dict != nil {
		x.dict.Release()
	}
	x.dict, x.entry = dict, entry
	if cap(x.seen) >= dict.Len() {
		x.seen = x.seen[:dict.Len()]
		clear(x.seen)
	} else {
		x.seen = make([]uint32, dict.Len())
	}
	x.epoch, x.used = 1, x.used[:0]
	return nil
}

// Take returns the page of the rows appended since the last Take (a fresh buffer; Encoding
// RLE_DICTIONARY: definition levels, then the indices; NumValues its rows, NULLs included;
// Stats the page's), or false when there are none. Compressed (CPUPlain.Compress), it is a
// Page for RowGroup.AppendDictPages.
func (c *DictColumn) Take() (RawPage, bool) {
	if c.rows == 0 {
		return RawPage{}, false
	}
	stats := c.ix.stats(int64(c.rows - len(c.ix.idx)))
	size := c.ix.dataGuess()
	var raw []byte
	if c.nullable {
		raw = AppendValidityLevels(make([]byte, 0, 4+binary.MaxVarintLen64+(c.rows+7)/8+size), c.valid, c.rows)
	} else {
		raw = make([]byte, 0, size)
	}
	raw = c.ix.appendData(raw)
	p := RawPage{Data: raw, NumValues: int32(c.rows), Stats: stats, Encoding: parquet.Encodings.RLEDict}
	c.reset()
	return p, true
}

// stats is the page's exact statistics: nulls NULLs; min and max, compared byte-wise as
// Parquet orders BYTE_ARRAY, of the dictionary entries its indices use (copies, never nil: an
// empty string is a minimum too).
func (x *dictIndices) stats(nulls int64) metadata.EncodedStatistics {
	stats := metadata.EncodedStatistics{HasNullCount: true, NullCount: nulls}
	for i, k := range x.used {
		v := x.entry(int(k))
		if i == 0 || bytes.Compare(v, stats.Min) < 0 {
			stats.Min = v
		}
		if i == 0 || bytes.Compare(v, stats.Max) > 0 {
			stats.Max = v
		}
	}
	if len(x.used) > 0 {
		stats.HasMin, stats.HasMax = true, true
		stats.Min, stats.Max = append([]byte{}, stats.Min...), append([]byte{}, stats.Max...)
	}
	return stats
}

// width is the bit width of the page's largest index (0 when it is 0).
func (x *dictIndices) width() int {
	maxIdx := int32(0)
	for _, k := range x.used {
		maxIdx = max(maxIdx, k)
	}
	return bits.Len32(uint32(maxIdx))
}

// dataGuess is the room appendData takes first.
func (x *dictIndices) dataGuess() int {
	return 1 + hybridGuess(len(x.idx), x.width())
}

// appendData appends the page's indices as RLE_DICTIONARY data to dst: one byte, the bit
// width of the largest, then their RLE/bit-packed hybrid.
func (x *dictIndices) appendData(dst []byte) []byte {
	width := x.width()
	dst = append(dst, byte(width))
	return AppendHybrid(dst, x.idx, width)
}

// reset empties the page being built.
func (c *DictColumn) reset() {
	c.valid, c.rows = c.valid[:0], 0
	c.ix.reset()
}

// reset empties the page's indices; the dictionary stays.
func (x *dictIndices) reset() {
	x.idx = x.idx[:0]
	x.used = x.used[:0]
	x.epoch++
	if x.epoch == 0 { // wrapped: no entry may look seen
		clear(x.seen)
		x.epoch = 1
	}
}

// hybridGuess is the room AppendHybrid takes first for n values of bit width width: all of
// them bit-packed, a few run headers, the slack its packing writes past the end. It grows the
// buffer where runs need more.
func hybridGuess(n, width int) int {
	return n*width/8 + n/64 + 64
}

// hybridSlack is the bytes the packing may write past the end of a bit-packed run.
const hybridSlack = 40

// AppendHybrid appends to dst the RLE/bit-packed hybrid encoding (Parquet's, without a length
// prefix or bit width byte) of values, each in [0, 1<<width), width in [0, 32]: at each group
// of 8 values from where the last run ended, 8 equal values (or equal values up to the end)
// start an RLE run of all the equal values that follow; the other groups are bit-packed, the
// consecutive ones in one run, the last group padded with zeros.
func AppendHybrid(dst []byte, values []int32, width int) []byte {
	literal := literalWide
	if width >= 1 && width <= 8 {
		literal = literals[width]
	}
	return appendHybrid(dst, int32Values{values, width, literal}, len(values), width)
}

// AppendHybridBytes is AppendHybrid for values a byte each (levels), of width 1 to 8: the same
// bytes, read 8 values at a time as one 64-bit word (8 equal values: the word is the value's
// byte repeated; width 1: the 8 bits gathered by one multiplication) instead of widened to
// int32 first.
func AppendHybridBytes(dst []byte, values []uint8, width int) []byte {
	return appendHybrid(dst, byteValues{values, width}, len(values), width)
}

// hybridInput is the n values appendHybrid encodes, read by the kind of their slice.
type hybridInput interface {
	// literal bit-packs the groups of 8 values from i at out[o:], up to the first group of 8
	// equal values or the last group of fewer than 8 (literalGroups).
	literal(out []byte, o, i int) (int, int)
	// last bit-packs the values from j (fewer than 8), padded, at out[o:] and returns the
	// offset past them, or false when they are all equal (an RLE run).
	last(out []byte, o, j int) (int, bool)
	// run returns the end of the run of values equal to value j, and that value.
	run(j int) (int, uint32)
}

// appendHybrid is AppendHybrid of the n values of in, each in [0, 1<<width).
func appendHybrid(dst []byte, in hybridInput, n, width int) []byte {
	if n == 0 {
		return dst
	}
	o := len(dst)
	out := slices.Grow(dst, hybridGuess(n, width))
	out = out[:cap(out)]
	hdrMax := varintLen(uint64((n+7)/8)<<1 | 1)
	vbytes := (width + 7) / 8
	for i := 0; i < n; {
		// A bit-packed run from i, its header written once its groups are known: the
		// groups go after room for the longest header, moved back under a shorter one.
		out = room(out, o, hdrMax+(n-i+7)/8*width+hybridSlack)
		p, j := in.literal(out, o+hdrMax, i)
		if j < n && n-j < 8 {
			if q, ok := in.last(out, p, j); ok { // a last group of different values, padded
				p, j = q, n
			}
		}
		if j > i {
			hl := binary.PutUvarint(out[o:], uint64((j-i+7)/8)<<1|1)
			if hl < hdrMax {
				copy(out[o+hl:], out[o+hdrMax:p])
			}
			o = p - (hdrMax - hl)
		}
		if j >= n {
			break
		}
		// An RLE run at j: 8 equal values, or equal values up to the end, and all the equal
		// values that follow.
		k, v := in.run(j)
		out = room(out, o, 9)
		o += binary.PutUvarint(out[o:], uint64(k-j)<<1)
		for b := range vbytes {
			out[o+b] = byte(v >> (8 * b))
		}
		o += vbytes
		i = k
	}
	return out[:o]
}

// int32Values is AppendHybrid's hybridInput.
type int32Values struct {
	values []int32
	width  int
	groups literalGroups
}

func (v int32Values) literal(out []byte, o, i int) (int, int) {
	return v.groups(out, o, v.values, i, v.width)
}

func (v int32Values) last(out []byte, o, j int) (int, bool) {
	if allEqual(v.values[j:]) {
		return o, false
	}
	var x [8]int32
	copy(x[:], v.values[j:])
	return packWide(out, o, &x, uint(v.width)), true
}

func (v int32Values) run(j int) (int, uint32) {
	values, x0 := v.values, v.values[j]
	k := j + 1
	for ; k+8 <= len(values); k += 8 {
		if x := (*[8]int32)(values[k : k+8]); (x[0]^x0)|(x[1]^x0)|(x[2]^x0)|(x[3]^x0)|(x[4]^x0)|(x[5]^x0)|(x[6]^x0)|(x[7]^x0) != 0 {
			break
		}
	}
	for k < len(values) && values[k] == x0 {
		k++
	}
	return k, uint32(x0)
}

// byteValues is AppendHybridBytes's hybridInput.
type byteValues struct {
	values []uint8
	width  int
}

func (v byteValues) literal(out []byte, o, i int) (int, int) {
	return literalBytes(out, o, v.values, i, v.width)
}

func (v byteValues) last(out []byte, o, j int) (int, bool) {
	if allEqual(v.values[j:]) {
		return o, false
	}
	var x [8]uint8
	copy(x[:], v.values[j:])
	return packBytes(out, o, binary.LittleEndian.Uint64(x[:]), v.width), true
}

func (v byteValues) run(j int) (int, uint32) {
	values, x0 := v.values, v.values[j]
	rep := uint64(x0) * 0x0101010101010101
	k := j + 1
	for ; k+8 <= len(values); k += 8 {
		if binary.LittleEndian.Uint64(values[k:k+8]) != rep {
			break
		}
	}
	for k < len(values) && values[k] == x0 {
		k++
	}
	return k, uint32(x0)
}

// literalBytes is literalGroups for values a byte each (AppendHybridBytes).
func literalBytes(out []byte, o int, values []uint8, i, width int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := binary.LittleEndian.Uint64(values[i : i+8])
		if x == uint64(values[i])*0x0101010101010101 { // 8 equal values
			break
		}
		o = packBytes(out, o, x, width)
	}
	return o, i
}

// packBytes bit-packs the 8 values a byte each of x (value j in byte j) at width bits each
// into out[o:], LSB first, and returns the offset past them. It writes 8 bytes (hybridSlack).
func packBytes(out []byte, o int, x uint64, width int) int {
	var u uint64
	if width == 1 {
		u = (x * 0x0102040810204080) >> 56 // bit j from byte j's lowest bit
	} else {
		for j := range 8 {
			u |= (x >> (8 * j) & 0xff) << (width * j)
		}
	}
	binary.LittleEndian.PutUint64(out[o:o+8], u)
	return o + width
}

// varintLen is the bytes of x as an unsigned varint.
func varintLen(x uint64) int {
	return (bits.Len64(x|1) + 6) / 7
}

// allEqual says whether values (at least one) are all equal.
func allEqual[T int32 | uint8](values []T) bool {
	for _, v := range values[1:] {
		if v != values[0] {
			return false
		}
	}
	return true
}

// room returns out (its full length) with at least need bytes from o, its first o kept.
func room(out []byte, o, need int) []byte {
	if o+need <= len(out) {
		return out
	}
	grown := make([]byte, max(2*len(out), o+need))
	copy(grown, out[:o])
	return grown
}

// literalGroups bit-packs the groups of 8 values of width width from values[i:] at out[o:],
// up to the first group of 8 equal values or the last group of fewer than 8, and returns the
// offsets past them in out and in values. out has room for all the groups and hybridSlack
// bytes more.
type literalGroups func(out []byte, o int, values []int32, i, width int) (int, int)

// literals are the literalGroups of widths 1 to 8: loops of constant shifts (Go's variable
// shifts cost a check each).
var literals = [9]literalGroups{nil, literal1, literal2, literal3, literal4, literal5, literal6, literal7, literal8}

// literalWide is literalGroups of any width up to 32.
func literalWide(out []byte, o int, values []int32, i, width int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		if v := x[0]; (x[1]^v)|(x[2]^v)|(x[3]^v)|(x[4]^v)|(x[5]^v)|(x[6]^v)|(x[7]^v) == 0 {
			break
		}
		o = packWide(out, o, x, uint(width))
	}
	return o, i
}

// literal1 is literalGroups for width 1.
func literal1(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<1 | uint64(uint32(x[2]))<<2 | uint64(uint32(x[3]))<<3 | uint64(uint32(x[4]))<<4 | uint64(uint32(x[5]))<<5 | uint64(uint32(x[6]))<<6 | uint64(uint32(x[7]))<<7
		if u == uint64(uint32(x[0]))*0xff { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 1
	}
	return o, i
}

// literal2 is literalGroups for width 2.
func literal2(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<2 | uint64(uint32(x[2]))<<4 | uint64(uint32(x[3]))<<6 | uint64(uint32(x[4]))<<8 | uint64(uint32(x[5]))<<10 | uint64(uint32(x[6]))<<12 | uint64(uint32(x[7]))<<14
		if u == uint64(uint32(x[0]))*0x5555 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 2
	}
	return o, i
}

// literal3 is literalGroups for width 3.
func literal3(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<3 | uint64(uint32(x[2]))<<6 | uint64(uint32(x[3]))<<9 | uint64(uint32(x[4]))<<12 | uint64(uint32(x[5]))<<15 | uint64(uint32(x[6]))<<18 | uint64(uint32(x[7]))<<21
		if u == uint64(uint32(x[0]))*0x249249 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 3
	}
	return o, i
}

// literal4 is literalGroups for width 4.
func literal4(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<4 | uint64(uint32(x[2]))<<8 | uint64(uint32(x[3]))<<12 | uint64(uint32(x[4]))<<16 | uint64(uint32(x[5]))<<20 | uint64(uint32(x[6]))<<24 | uint64(uint32(x[7]))<<28
		if u == uint64(uint32(x[0]))*0x11111111 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 4
	}
	return o, i
}

// literal5 is literalGroups for width 5.
func literal5(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<5 | uint64(uint32(x[2]))<<10 | uint64(uint32(x[3]))<<15 | uint64(uint32(x[4]))<<20 | uint64(uint32(x[5]))<<25 | uint64(uint32(x[6]))<<30 | uint64(uint32(x[7]))<<35
		if u == uint64(uint32(x[0]))*0x842108421 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 5
	}
	return o, i
}

// literal6 is literalGroups for width 6.
func literal6(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<6 | uint64(uint32(x[2]))<<12 | uint64(uint32(x[3]))<<18 | uint64(uint32(x[4]))<<24 | uint64(uint32(x[5]))<<30 | uint64(uint32(x[6]))<<36 | uint64(uint32(x[7]))<<42
		if u == uint64(uint32(x[0]))*0x41041041041 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 6
	}
	return o, i
}

// literal7 is literalGroups for width 7.
func literal7(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<7 | uint64(uint32(x[2]))<<14 | uint64(uint32(x[3]))<<21 | uint64(uint32(x[4]))<<28 | uint64(uint32(x[5]))<<35 | uint64(uint32(x[6]))<<42 | uint64(uint32(x[7]))<<49
		if u == uint64(uint32(x[0]))*0x2040810204081 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 7
	}
	return o, i
}

// literal8 is literalGroups for width 8.
func literal8(out []byte, o int, values []int32, i, _ int) (int, int) {
	for ; i+8 <= len(values); i += 8 {
		x := (*[8]int32)(values[i : i+8])
		u := uint64(uint32(x[0])) | uint64(uint32(x[1]))<<8 | uint64(uint32(x[2]))<<16 | uint64(uint32(x[3]))<<24 | uint64(uint32(x[4]))<<32 | uint64(uint32(x[5]))<<40 | uint64(uint32(x[6]))<<48 | uint64(uint32(x[7]))<<56
		if u == uint64(uint32(x[0]))*0x101010101010101 { // 8 equal values
			break
		}
		binary.LittleEndian.PutUint64(out[o:o+8], u)
		o += 8
	}
	return o, i
}

// packWide bit-packs 8 values of any width up to 32 at out[o:] (width bytes, and up to 32
// bytes written) and returns the offset past them.
func packWide(out []byte, o int, x *[8]int32, w uint) int {
	var words [5]uint64
	for k := range 8 {
		v := uint64(uint32(x[k]))
		s := uint(k) * w
		words[s/64] |= v << (s & 63)
		if s&63+w > 64 {
			words[s/64+1] |= v >> ((64 - s&63) & 63)
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
// (an empty value is one; arrow-go's typed statistics drop it), NULL counts summed. A call whose
// rows hold values but whose statistics have no min and max (its least or greatest value was
// longer than the writer keeps, MaxStatsSizeFor) leaves the chunk without min and max: the
// others' would claim a range its values are outside of, and readers skip row groups by it.
type byteStats struct {
	noStats, nullsUnknown bool
	noMinMax              bool
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
	if !e.HasMin && (!e.HasNullCount || e.NullCount < rows) {
		s.noMinMax = true // values whose extremes are not known (a list's empty ones count too: none is lost)
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
	if s.noMinMax {
		st.HasMin, st.HasMax, st.Min, st.Max = false, false, nil, nil
	}
	return st
}
