package pqfile

import (
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

// ListColumn builds the data pages of the one Parquet leaf of a top-level Arrow list<T> field
// (a one-dimensional list: PostgreSQL's int[], text[], ...) from a row group's batches, the
// way PlainColumn and DictColumn build a flat column's: without arrow-go's level builder and
// column writer (AppendField), which spent a quarter of the GPU writer's CPU on bench/load's
// wide table computing the levels with a general walker, RLE-encoding them value by value and
// writing the values through interfaces. T is either
//   - a fixed-width type (EncodesPlain): the non-NULL elements PLAIN, as PlainColumn writes
//     them (PlainFragment's conversion and statistics), or
//   - a dictionary of int32 indices into strings or binaries, the same dictionary in every batch
//     of a page (the export's lane dictionary, as DictColumn takes it): the non-NULL elements'
//     indices as RLE_DICTIONARY data, for RowGroup.AppendDictPages with Dictionary().
//
// The levels are computed from the list's offsets and validity bitmaps (in passes over runs of
// rows where no element is NULL, else a loop per row), as pqarrow writes them: a NULL list is
// one level (repetition 0, definition 0), an empty list one level (repetition 0, definition 1
// for a nullable field, else 0), a list of elements one level
// per element (repetition 0 for the first, 1 for the others; definition the maximum for a
// value, one less for a NULL element). A page's bytes are its repetition levels then its
// definition levels (each the RLE/bit-packed hybrid of AppendHybrid, 4-byte length prefixed;
// bit width 1 and that of the maximum definition level) in Levels, its values in Data. Its
// statistics are exact: NULL count the levels that are not a value (NULL lists, empty lists,
// NULL elements: as arrow-go counts them for a list leaf), min and max over the values (fixed
// width as PlainPages computes them; strings byte-wise, an empty one included).
//
// Pages are cut at a record boundary (a page starts at repetition level 0), the first one at
// which the page holds pageBytes of levels at the values' width (4 bytes for indices): a
// list longer than that is one page. Cut while a batch is appended, pages wait in the column
// until Take. A ListColumn is used by one goroutine.
type ListColumn struct {
	nullable     bool  // the list field is optional: a NULL list has definition level 0
	elemNullable bool  // its elements are optional
	maxDef       int32 // the definition level of a value
	emptyDef     int32 // that of an empty list
	pageLevels   int   // a page is cut at the first record boundary at or past these levels
	elem         arrow.DataType

	plain  bool        // values PLAIN (a fixed-width T), else dictionary indices
	merge  statsMerger // plain: merges the values' statistics exactly
	values []byte      // plain: the page's non-NULL values, PLAIN; the column's own
	spare  []byte      // plain: a values buffer Recycle gave back, for the next page
	stats  metadata.EncodedStatistics
	ix     dictIndices // dictionary: the page's non-NULL indices and the entries they use

	rep, def  []uint8 // the page's levels (at most 3): a byte each, widened only to be encoded
	nonNull   int     // the page's values
	rows      int     // the page's records
	ready     []RawPage
	readyRows int // the records of ready
}

// EncodesList says whether NewListColumn takes a field of Arrow type t: a list of a
// fixed-width type (EncodesPlain), or of a dictionary of int32 indices into strings or
// binaries.
func EncodesList(t arrow.DataType) bool {
	l, ok := t.(*arrow.ListType)
	if !ok {
		return false
	}
	return EncodesPlain(l.Elem()) || dictOfBytes(l.Elem())
}

// dictOfBytes says whether t is a dictionary of int32 indices into strings or binaries.
func dictOfBytes(t arrow.DataType) bool {
	d, ok := t.(*arrow.DictionaryType)
	if !ok || d.IndexType.ID() != arrow.INT32 {
		return false
	}
	v := d.ValueType
	if e, ok := v.(arrow.ExtensionType); ok {
		v = e.StorageType()
	}
	return v.ID() == arrow.STRING || v.ID() == arrow.BINARY
}

// NewListColumn returns an empty column for a top-level field of type t (EncodesList),
// nullable or not (its elements as t's element field says), whose pages are cut as the
// column's doc says at pageBytes.
func NewListColumn(t arrow.DataType, nullable bool, pageBytes int) (*ListColumn, error) {
	if !EncodesList(t) {
		return nil, fmt.Errorf("pqfile: %s is not a list ListColumn takes", t)
	}
	elem := t.(*arrow.ListType).ElemField()
	c := &ListColumn{nullable: nullable, elemNullable: elem.Nullable, maxDef: 1, elem: elem.Type, ix: dictIndices{epoch: 1}}
	width := 4 // an index
	if EncodesPlain(elem.Type) {
		m, err := newStatsMerger(elem.Type)
		if err != nil {
			return nil, err
		}
		c.plain, c.merge, width = true, m, m.width
	}
	if nullable {
		c.maxDef++
		c.emptyDef = 1
	}
	if elem.Nullable {
		c.maxDef++
	}
	c.pageLevels = max(pageBytes/width, 1)
	c.reset()
	return c, nil
}

// Levels is the maximum definition and repetition levels of the column's pages: those of the
// Parquet leaf they are for (Writer.ColumnLevels).
func (c *ListColumn) Levels() (maxDef, maxRep int16) { return int16(c.maxDef), 1 }

// Dictionary is the dictionary of the batches appended to a column of dictionaries (nil before
// the first, and for fixed-width elements): the array to give RowGroup.AppendDictPages with
// the pages.
func (c *ListColumn) Dictionary() arrow.Array { return c.ix.dict }

// Rows is the records appended and not yet taken.
func (c *ListColumn) Rows() int { return c.readyRows + c.rows }

// Full says whether a page was cut and waits to be taken.
func (c *ListColumn) Full() bool { return len(c.ready) > 0 }

// Bytes estimates the bytes held: the pages cut, and the page being built (its values, and
// its levels at about two bits each).
func (c *ListColumn) Bytes() int {
	n := len(c.def) / 4
	if c.plain {
		n += len(c.values)
	} else {
		n += c.ix.bytes()
	}
	for _, p := range c.ready {
		n += p.Len()
	}
	return n
}

// Release drops the dictionary held, and the pages held.
func (c *ListColumn) Release() {
	c.reset()
	c.ready, c.readyRows = nil, 0
	c.ix.release()
}

// Append adds a's records: a is a list array of the column's type (any offset; its values are
// copied), whose NULL lists hold no element (as pqarrow requires); a batch of dictionaries
// must carry the dictionary of the records held (or any when there are none: Take them all
// before a batch of another). On error nothing was appended.
func (c *ListColumn) Append(a arrow.Array) error {
	l, ok := a.(*array.List)
	if !ok {
		return fmt.Errorf("pqfile: a list column of %s", a.DataType())
	}
	n := l.Len()
	if l.NullN() > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULL lists in a required column", l.NullN())
	}
	elems := l.ListValues()
	if !arrow.TypeEqual(elems.DataType(), c.elem) {
		return fmt.Errorf("pqfile: a list of %s in a column of lists of %s", elems.DataType(), c.elem)
	}
	var idx *array.Int32
	if !c.plain {
		d := elems.(*array.Dictionary)
		idx = d.Indices().(*array.Int32) // dictOfBytes
		if err := c.ix.setDictionary(d.Dictionary(), c.Rows() > 0); err != nil {
			return err
		}
	}
	if n == 0 {
		return nil
	}
	loff := l.Data().Offset()
	offs := l.Offsets()[loff : loff+n+1] // the whole array's: from row 0 of the slice
	lo, hi := int(offs[0]), int(offs[n])
	var lvalid []byte
	if l.NullN() > 0 {
		lvalid = l.NullBitmapBytes()
		for r := range n {
			if !bitutil.BitIsSet(lvalid, loff+r) && offs[r] != offs[r+1] {
				return fmt.Errorf("pqfile: row %d: a NULL list of %d elements", r, offs[r+1]-offs[r])
			}
		}
	}
	var evalid []byte // the elements' validity, when some of lo to hi are NULL
	eoff := elems.Data().Offset()
	if elems.NullN() > 0 {
		if nulls := hi - lo - bitutil.CountSetBits(elems.NullBitmapBytes(), eoff+lo, hi-lo); nulls > 0 {
			if !c.elemNullable {
				return fmt.Errorf("pqfile: %d NULL elements in a list of required elements", nulls)
			}
			evalid = elems.NullBitmapBytes()
		}
	}
	if err := c.check(elems, idx, evalid, lo, hi); err != nil {
		return err
	}
	for r := 0; r < n; {
		r1 := c.levels(offs, lvalid, loff, evalid, eoff, r, n)
		if s, e := int(offs[r]), int(offs[r1]); e > s {
			// The elements of rows r to r1 (a NULL list holds none): contiguous.
			if err := c.addValues(elems, idx, evalid != nil, s, e); err != nil {
				return err // not after check
			}
		}
		c.rows += r1 - r
		if len(c.def) >= c.pageLevels {
			c.cut()
		}
		r = r1
	}
	return nil
}

// check refuses the values of elements lo to hi that the column cannot write (before any is
// appended): a decimal that does not fit in its precision's size, an index that is not one
// of the dictionary's. evalid: the elements have NULLs (whose slots are not checked).
func (c *ListColumn) check(elems arrow.Array, idx *array.Int32, evalid []byte, lo, hi int) error {
	if idx != nil {
		values, n := idx.Int32Values()[lo:hi], uint32(c.ix.dict.Len())
		or := uint32(0)
		for _, k := range values {
			if uint32(k) >= n {
				or = 1
			}
		}
		if or == 0 {
			return nil
		}
		for i, k := range values {
			if (evalid == nil || idx.IsValid(lo+i)) && uint32(k) >= n {
				return fmt.Errorf("pqfile: dictionary index %d of a dictionary of %d entries", k, n)
			}
		}
		return nil
	}
	if d, ok := elems.(*array.Decimal128); ok {
		size := c.merge.width
		for i := lo; i < hi; i++ {
			if d.IsValid(i) && !decimalFits(d.Value(i), size) {
				return fmt.Errorf("pqfile: decimal %s does not fit in the %d bytes of its precision", d.ValueStr(i), size)
			}
		}
	}
	return nil
}

// levels appends the levels of rows r to n of the list (offs its offsets from row 0; lvalid
// its validity from bit loff, nil without NULL lists; evalid its elements' from bit eoff, nil
// without NULL elements) until the page holds its levels, and returns the row after the last
// one done: the page is then cut there, at a record boundary.
func (c *ListColumn) levels(offs []int32, lvalid []byte, loff int, evalid []byte, eoff int, r, n int) int {
	if evalid == nil {
		return c.levelsNoNullElements(offs, lvalid, loff, r, n)
	}
	def, rep := c.def, c.rep
	maxDef, emptyDef, limit := uint8(c.maxDef), uint8(c.emptyDef), c.pageLevels
	// Room for the rows' levels up to the page's end, as near as known.
	if want := min(int(offs[n]-offs[r])+n-r, limit-len(def)+64); want > 0 {
		def, rep = slices.Grow(def, want), slices.Grow(rep, want)
	}
	for ; r < n; r++ {
		s, e := int(offs[r]), int(offs[r+1])
		switch {
		case lvalid != nil && lvalid[(loff+r)>>3]&(1<<((loff+r)&7)) == 0:
			def, rep = append(def, 0), append(rep, 0)
		case s == e:
			def, rep = append(def, emptyDef), append(rep, 0)
		default:
			k, m := len(def), e-s
			def, rep = slices.Grow(def, m)[:k+m], slices.Grow(rep, m)[:k+m]
			dl, rl := def[k:k+m], rep[k:k+m]
			rl[0] = 0
			for j := 1; j < m; j++ {
				rl[j] = 1
			}
			for j := range dl { // evalid is set: levelsNoNullElements takes the rest
				b := eoff + s + j
				dl[j] = maxDef - 1 + evalid[b>>3]>>(b&7)&1
			}
		}
		if len(def) >= limit {
			r++
			break
		}
	}
	c.def, c.rep = def, rep
	return r
}

// levelsNoNullElements is levels for lists without NULL elements (evalid nil), the common case
// (bench/load's wide table: text[] and int[] of three values), in passes over whole runs of
// rows instead of a loop per row: the rows that fit the page first (each takes its elements'
// levels, or one for a NULL or empty list), then the definition levels filled with the
// maximum and the repetition levels with 1, then each row's first level set (repetition 0;
// definition 0 for a NULL list, that of an empty list for one).
func (c *ListColumn) levelsNoNullElements(offs []int32, lvalid []byte, loff int, r, n int) int {
	k, limit := len(c.def), c.pageLevels
	r1, total := r, 0
	for r1 < n && k+total < limit {
		total += max(int(offs[r1+1]-offs[r1]), 1)
		r1++
	}
	def, rep := slices.Grow(c.def, total)[:k+total], slices.Grow(c.rep, total)[:k+total]
	fill(def[k:], uint8(c.maxDef))
	fill(rep[k:], 1)
	emptyDef := uint8(c.emptyDef)
	for i, p := r, k; i < r1; i++ {
		m := int(offs[i+1] - offs[i])
		rep[p] = 0
		if m == 0 {
			def[p] = emptyDef
			if lvalid != nil && lvalid[(loff+i)>>3]&(1<<((loff+i)&7)) == 0 {
				def[p] = 0
			}
			m = 1
		}
		p += m
	}
	c.def, c.rep = def, rep
	return r1
}

// fill sets every byte of b to v, in copies that double (memmove) rather than a byte at a time.
func fill(b []byte, v uint8) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for done := 1; done < len(b); done *= 2 {
		copy(b[done:], b[:done])
	}
}

// addValues appends elements s to e (which check accepted) to the page: their non-NULL values
// PLAIN and their statistics, or their non-NULL indices (nulls: some are NULL).
func (c *ListColumn) addValues(elems arrow.Array, idx *array.Int32, nulls bool, s, e int) error {
	if !c.plain {
		var bitmap []byte
		if nulls {
			bitmap = idx.NullBitmapBytes()
		}
		before := len(c.ix.idx)
		if _, err := c.ix.add(idx.Int32Values()[s:e], bitmap, idx.Data().Offset()+s); err != nil {
			return err
		}
		c.nonNull += len(c.ix.idx) - before
		return nil
	}
	if len(c.values) == 0 && cap(c.spare) > cap(c.values) {
		c.values, c.spare = c.spare[:0], nil
	}
	var st metadata.EncodedStatistics
	var ok bool
	if !nulls {
		c.values, st, ok = appendPlainBulk(c.values, elems, s, e)
	}
	if !ok {
		part := array.NewSlice(elems, int64(s), int64(e))
		values, fst, err := PlainFragment(part)
		part.Release()
		if err != nil {
			return err
		}
		c.values, st = append(c.values, values...), fst
	}
	c.nonNull += e - s - int(st.NullCount)
	st.NullCount = 0
	c.stats = c.merge.merge(c.stats, st)
	return nil
}

// cut ends the page being built: its levels encoded, its values handed over, its statistics;
// it waits in ready for Take.
func (c *ListColumn) cut() {
	levels := len(c.def)
	defWidth := bits.Len32(uint32(c.maxDef))
	lv := make([]byte, 0, 8+hybridGuess(levels, 1)+hybridGuess(levels, defWidth))
	lv = appendLevels(lv, c.rep, 1)
	lv = appendLevels(lv, c.def, defWidth)
	p := RawPage{Levels: lv, NumValues: int32(levels), Rows: int32(c.rows)}
	nulls := int64(levels - c.nonNull)
	if c.plain {
		p.Data, p.Stats = c.values, c.stats
		p.Stats.HasNullCount, p.Stats.NullCount = true, nulls
		if p.Data == nil {
			p.Data = []byte{}
		}
		c.values = nil // the next page takes the spare, else a new buffer
	} else {
		p.Stats = c.ix.stats(nulls)
		p.Data = c.ix.appendData(make([]byte, 0, c.ix.dataGuess()))
		p.Encoding = parquet.Encodings.RLEDict
	}
	c.ready = append(c.ready, p)
	c.readyRows += c.rows
	c.reset()
}

// appendLevels appends levels (each in [0, 1<<width)) to dst as DataPageV1 holds them: their
// 4-byte little-endian length, then their RLE/bit-packed hybrid.
func appendLevels(dst []byte, levels []uint8, width int) []byte {
	at := len(dst)
	dst = AppendHybridBytes(append(dst, 0, 0, 0, 0), levels, width)
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	return dst
}

// reset empties the page being built (its values buffer kept: reused, or handed over by cut).
func (c *ListColumn) reset() {
	c.def, c.rep = c.def[:0], c.rep[:0]
	c.values = c.values[:0]
	c.nonNull, c.rows = 0, 0
	c.stats = metadata.EncodedStatistics{HasNullCount: true}
	c.ix.reset()
}

// Take returns the oldest page held: one cut while appending (Full), else the page of the
// records appended since (cut now), or false when there are none. The page owns its buffers:
// Data (values of fixed width) is the column's buffer, handed over: Recycle gives it back
// once its bytes are no longer read. Pages of dictionaries go to RowGroup.AppendDictPages with
// Dictionary(), the others to RowGroup.AppendPages, compressed (CPUPlain.Compress).
func (c *ListColumn) Take() (RawPage, bool) {
	if len(c.ready) == 0 {
		if c.rows == 0 {
			return RawPage{}, false
		}
		c.cut()
	}
	p := c.ready[0]
	c.ready[0] = RawPage{}
	c.ready = c.ready[1:]
	c.readyRows -= int(p.Rows)
	if len(c.ready) == 0 {
		c.ready = c.ready[:0:0]
	}
	return p, true
}

// Recycle gives back the values buffer of p, a page this column's Take returned, once nobody
// reads its bytes (its compression is done): the next page reuses it. p's bytes must not be
// used after.
func (c *ListColumn) Recycle(p RawPage) {
	if c.plain && cap(p.Data) > cap(c.spare) && !sameBuffer(p.Data, c.values) {
		c.spare = p.Data[:0]
	}
}
