package pqfile

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RawPage is an uncompressed data page of PlainPages, PlainColumn, DictColumn, ListColumn or
// ByteColumn: its bytes in separate buffers, its levels and rows, its statistics and its
// encoding. The page's uncompressed bytes are Levels followed by Data, then by each of Parts:
// Levels its repetition levels (a list's column only) then its definition levels (each 4-byte
// length prefixed; empty for a required flat column), Data (or Parts, ByteColumn's chunks) its
// values, PLAIN (Encoding's zero value), or from DictColumn and a ListColumn of dictionaries
// its indices, RLE_DICTIONARY. They are separate buffers so that the columns hand their values
// over without copying them; use Len and AppendTo for the page as one. NumValues is the page's
// levels (DataPageV1's num_values: values and NULLs, and a list column's empty lists); Rows the
// records they hold where that differs (a list column's page: its levels of repetition level
// 0), 0 for a flat column's page, whose rows are its NumValues.
type RawPage struct {
	Levels    []byte
	Data      []byte
	Parts     [][]byte
	NumValues int32
	Rows      int32
	Stats     metadata.EncodedStatistics
	Encoding  parquet.Encoding
	// FixedWidth: PLAIN values of a fixed-width column (PlainPages, PlainColumn), which the
	// device's zstd compresses in larger frames than other pages (CPUPlain.Compress).
	FixedWidth bool
}

// Len is the page's uncompressed size: its Levels, Data and Parts.
func (p RawPage) Len() int {
	n := len(p.Levels) + len(p.Data)
	for _, b := range p.Parts {
		n += len(b)
	}
	return n
}

// AppendTo appends the page's uncompressed bytes (Levels, Data, then Parts) to dst.
func (p RawPage) AppendTo(dst []byte) []byte {
	dst = append(append(dst, p.Levels...), p.Data...)
	for _, b := range p.Parts {
		dst = append(dst, b...)
	}
	return dst
}

// PlainPages encodes a fixed-width column (int16 as INT32, int32, int64, float32, float64,
// date32, time64, timestamp; decimal128 as FIXED_LEN_BYTE_ARRAY of its precision's size,
// compared as signed integers for the statistics)
// the way the GPU writer's kernel does (device.EncodePlain is compared with it byte for
// byte): pages of at most pageRows rows (one empty page for no rows), each its definition
// levels (nullable: one bit-packed run of the RLE/bit-packed hybrid, 4-byte length prefixed)
// then the non-NULL values PLAIN (little-endian), each page's levels in its Levels and values
// in its Data; exact min, max (NaN left out, zero as -0.0 and +0.0, as parquet-mr writes them)
// and NULL count per page, and for the whole chunk. Every page has buffers of its own.
func PlainPages(a arrow.Array, nullable bool, pageRows int) ([]RawPage, metadata.EncodedStatistics, error) {
	if pageRows < 1 {
		return nil, metadata.EncodedStatistics{}, fmt.Errorf("pqfile: %d rows per page", pageRows)
	}
	if !nullable && a.NullN() > 0 {
		return nil, metadata.EncodedStatistics{}, fmt.Errorf("pqfile: %d NULLs in a required column", a.NullN())
	}
	return plainPages(a, nullable, pageRows)
}

// plainPages is PlainPages; without levels (levels false) NULLs are left out of the values.
func plainPages(a arrow.Array, levels bool, pageRows int) ([]RawPage, metadata.EncodedStatistics, error) {
	put, err := plainOf(a)
	if err != nil {
		return nil, metadata.EncodedStatistics{}, err
	}
	if d, ok := a.(*array.Decimal128); ok {
		size := int(pqarrow.DecimalSize(d.DataType().(*arrow.Decimal128Type).Precision))
		for i := range d.Len() {
			if d.IsValid(i) && !decimalFits(d.Value(i), size) {
				return nil, metadata.EncodedStatistics{}, fmt.Errorf("pqfile: decimal %s does not fit in the %d bytes of precision %d",
					d.ValueStr(i), size, d.DataType().(*arrow.Decimal128Type).Precision)
			}
		}
	}
	width := PlainWidth(a.DataType()) // of a PLAIN value
	var pages []RawPage
	var chunk statAcc
	chunk.init(a)
	for start := 0; start < a.Len() || (start == 0 && a.Len() == 0); start += pageRows {
		end := min(start+pageRows, a.Len())
		var valid []byte // rows [start, end)'s validity from bit 0
		if levels || a.NullN() > 0 {
			valid = make([]byte, (end-start+7)/8)
			if a.NullN() == 0 {
				bitutil.SetBitsTo(valid, 0, int64(end-start), true)
			} else {
				bitutil.CopyBitmap(a.NullBitmapBytes(), a.Data().Offset()+start, end-start, valid, 0)
			}
		}
		nulls := 0
		if a.NullN() > 0 {
			nulls = end - start - bitutil.CountSetBits(valid, 0, end-start)
		}
		var lv []byte
		if levels {
			lv = AppendValidityLevels(nil, valid, end-start)
		}
		raw := make([]byte, 0, (end-start-nulls)*width)
		var page statAcc
		page.init(a)
		ran := false
		if nulls == 0 && plainRuns {
			raw, ran = plainRun(a, start, end, raw, &page, &chunk)
		}
		for i := start; i < end && !ran; i++ {
			if a.IsNull(i) {
				page.nulls++
				chunk.nulls++
				continue
			}
			raw = put(raw, i)
			page.add(i)
			chunk.add(i)
		}
		pages = append(pages, RawPage{Levels: lv, Data: raw, NumValues: int32(end - start), Stats: page.encoded(), FixedWidth: true})
		if a.Len() == 0 {
			break
		}
	}
	return pages, chunk.encoded(), nil
}

// EncodePlain is PlainPages with each page compressed with codec: a column chunk for
// Writer.WriteRowGroup. It is the CPU twin of the GPU writer's encoder.
func EncodePlain(a arrow.Array, nullable bool, pageRows int, codec compress.Compression) (Encoded, error) {
	pages, stats, err := PlainPages(a, nullable, pageRows)
	if err != nil {
		return Encoded{}, err
	}
	cod, err := compress.GetCodec(codec)
	if err != nil {
		return Encoded{}, fmt.Errorf("pqfile: codec %s: %w", codec, err)
	}
	out := Encoded{Stats: stats, Pages: make([]Page, len(pages))}
	for i, p := range pages {
		out.Pages[i] = Page{Data: cod.Encode(nil, p.AppendTo(nil)), UncompressedSize: int32(p.Len()), NumValues: p.NumValues,
			Encoding: parquet.Encodings.Plain, Stats: p.Stats}
	}
	return out, nil
}

// plainRuns lets plainPages encode a run of values without NULLs through plainRun; the tests
// turn it off for the reference, the loop over single values.
var plainRuns = true

// littleEndian: the host keeps integers and floats in memory as PLAIN writes them.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// plainRun appends rows start to end of a, none of them NULL, to raw in their PLAIN form and
// adds them to page's and chunk's statistics, the same bytes and statistics as the loop over
// single values in plainPages, when a's values are their PLAIN form in memory (a little-endian
// host; int32, int64, float32, float64, date32, time64, timestamp): one copy and one pass for
// the minimum and maximum, because a call and two type switches per value cost a fifth of a
// CPU-path lineorder export's CPU. ok false: a is another type, and nothing was done.
func plainRun(a arrow.Array, start, end int, raw []byte, page, chunk *statAcc) (_ []byte, ok bool) {
	if !littleEndian {
		return raw, false
	}
	switch a := a.(type) {
	case *array.Int32:
		return intRun(a.Int32Values()[start:end], raw, page, chunk), true
	case *array.Date32:
		return intRun(a.Date32Values()[start:end], raw, page, chunk), true
	case *array.Int64:
		return intRun(a.Int64Values()[start:end], raw, page, chunk), true
	case *array.Time64:
		return intRun(a.Time64Values()[start:end], raw, page, chunk), true
	case *array.Timestamp:
		return intRun(a.TimestampValues()[start:end], raw, page, chunk), true
	case *array.Float32:
		return floatRun(a.Float32Values()[start:end], raw, page, chunk), true
	case *array.Float64:
		return floatRun(a.Float64Values()[start:end], raw, page, chunk), true
	}
	return raw, false
}

// intRun is plainRun of integer values v (date32, time64 and timestamp included).
func intRun[T ~int32 | ~int64](v []T, raw []byte, page, chunk *statAcc) []byte {
	if len(v) == 0 {
		return raw
	}
	lo, hi := v[0], v[0]
	for _, x := range v[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	page.addInts(int64(lo), int64(hi))
	chunk.addInts(int64(lo), int64(hi))
	return append(raw, arrow.GetBytes(v)...)
}

// floatRun is plainRun of floating-point values v: NaN left out of the statistics, the others
// compared as float64 with min and max, as statAcc.add does.
func floatRun[T float32 | float64](v []T, raw []byte, page, chunk *statAcc) []byte {
	var lo, hi float64
	has := false
	for _, x := range v {
		f := float64(x)
		if f != f { // NaN
			continue
		}
		if !has {
			lo, hi, has = f, f, true
		}
		lo, hi = min(lo, f), max(hi, f)
	}
	if has {
		page.addFloats(lo, hi)
		chunk.addFloats(lo, hi)
	}
	return append(raw, arrow.GetBytes(v)...)
}

// plainOf returns the function appending a's value i in its PLAIN form.
func plainOf(a arrow.Array) (func([]byte, int) []byte, error) {
	switch a := a.(type) {
	case *array.Int16: // INT32 in Parquet
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(int32(a.Value(i)))) }, nil
	case *array.Int32:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(a.Value(i))) }, nil
	case *array.Time64:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint64(b, uint64(a.Value(i))) }, nil
	case *array.Date32:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(a.Value(i))) }, nil
	case *array.Int64:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint64(b, uint64(a.Value(i))) }, nil
	case *array.Timestamp:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint64(b, uint64(a.Value(i))) }, nil
	case *array.Float32:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(a.Value(i))) }, nil
	case *array.Float64:
		return func(b []byte, i int) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(a.Value(i))) }, nil
	case *array.Decimal128:
		size := int(pqarrow.DecimalSize(a.DataType().(*arrow.Decimal128Type).Precision))
		return func(b []byte, i int) []byte { return append(b, decimalBytes(a.Value(i), size)...) }, nil
	}
	return nil, fmt.Errorf("pqfile: PLAIN encoding of %s is not supported", a.DataType())
}

// AppendValidityLevels appends to dst the definition levels of a flat optional column's page
// of rows rows whose validity is the bitmap valid (bit i, least significant first, for row i):
// their 4-byte little-endian length, then one bit-packed run of the RLE/bit-packed hybrid of
// bit width 1 (its header, groups of 8 << 1 | 1, then the bits, the last group padded with
// zeros), as PlainPages, PlainColumn and DictColumn write them.
func AppendValidityLevels(dst, valid []byte, rows int) []byte {
	groups := (rows + 7) / 8
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(groups)<<1|1)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h+groups))
	dst = append(dst, hdr[:h]...)
	dst = append(dst, valid[:groups]...)
	if tail := rows % 8; tail != 0 {
		dst[len(dst)-1] &= byte(1<<tail - 1) // no bit past the last row
	}
	return dst
}

// decimalBytes is v as Parquet's FIXED_LEN_BYTE_ARRAY decimal of size bytes holds it (as
// arrow-go writes it): the last size bytes of its 16-byte big-endian two's complement.
func decimalBytes(v decimal128.Num, size int) []byte {
	var be [16]byte
	binary.BigEndian.PutUint64(be[:8], uint64(v.HighBits()))
	binary.BigEndian.PutUint64(be[8:], v.LowBits())
	return be[16-size:]
}

// decimalFits says whether v is exactly its last size bytes, sign-extended.
func decimalFits(v decimal128.Num, size int) bool {
	b := decimalBytes(v, size)
	ext := byte(0)
	if b[0]&0x80 != 0 {
		ext = 0xff
	}
	var be [16]byte
	binary.BigEndian.PutUint64(be[:8], uint64(v.HighBits()))
	binary.BigEndian.PutUint64(be[8:], v.LowBits())
	for _, x := range be[:16-size] {
		if x != ext {
			return false
		}
	}
	return true
}

// statAcc accumulates the statistics of a fixed-width column's values.
type statAcc struct {
	a          arrow.Array
	nulls      int64
	has        bool
	minI, maxI int64
	minF, maxF float64
	minD, maxD decimal128.Num
	float      bool
}

func (s *statAcc) init(a arrow.Array) {
	s.a = a
	switch a.(type) {
	case *array.Float32, *array.Float64:
		s.float = true
	}
}

func (s *statAcc) add(i int) {
	if s.float {
		var v float64
		switch a := s.a.(type) {
		case *array.Float32:
			v = float64(a.Value(i))
		case *array.Float64:
			v = a.Value(i)
		}
		if !math.IsNaN(v) {
			s.addFloats(v, v)
		}
		return
	}
	if d, ok := s.a.(*array.Decimal128); ok {
		v := d.Value(i)
		if !s.has || v.Less(s.minD) {
			s.minD = v
		}
		if !s.has || s.maxD.Less(v) {
			s.maxD = v
		}
		s.has = true
		return
	}
	var v int64
	switch a := s.a.(type) {
	case *array.Int16:
		v = int64(a.Value(i))
	case *array.Time64:
		v = int64(a.Value(i))
	case *array.Int32:
		v = int64(a.Value(i))
	case *array.Date32:
		v = int64(a.Value(i))
	case *array.Int64:
		v = a.Value(i)
	case *array.Timestamp:
		v = int64(a.Value(i))
	}
	s.addInts(v, v)
}

// addInts adds the extremes lo and hi of a run of integer values.
func (s *statAcc) addInts(lo, hi int64) {
	if !s.has || lo < s.minI {
		s.minI = lo
	}
	if !s.has || hi > s.maxI {
		s.maxI = hi
	}
	s.has = true
}

// addFloats adds the extremes lo and hi of a run of floating-point values, NaN left out.
func (s *statAcc) addFloats(lo, hi float64) {
	if !s.has {
		s.minF, s.maxF = lo, hi
	}
	s.minF, s.maxF = min(s.minF, lo), max(s.maxF, hi)
	s.has = true
}

// encoded is the statistics in their PLAIN form.
func (s *statAcc) encoded() metadata.EncodedStatistics {
	st := metadata.EncodedStatistics{HasNullCount: true, NullCount: s.nulls}
	if !s.has {
		return st
	}
	st.HasMin, st.HasMax = true, true
	switch s.a.(type) {
	case *array.Int16, *array.Int32, *array.Date32:
		st.Min = binary.LittleEndian.AppendUint32(nil, uint32(int32(s.minI)))
		st.Max = binary.LittleEndian.AppendUint32(nil, uint32(int32(s.maxI)))
	case *array.Int64, *array.Timestamp, *array.Time64:
		st.Min = binary.LittleEndian.AppendUint64(nil, uint64(s.minI))
		st.Max = binary.LittleEndian.AppendUint64(nil, uint64(s.maxI))
	case *array.Decimal128:
		size := int(pqarrow.DecimalSize(s.a.DataType().(*arrow.Decimal128Type).Precision))
		st.Min = decimalBytes(s.minD, size)
		st.Max = decimalBytes(s.maxD, size)
	case *array.Float32:
		lo, hi := float32(s.minF), float32(s.maxF)
		if lo == 0 {
			lo = float32(math.Copysign(0, -1))
		}
		if hi == 0 {
			hi = float32(math.Copysign(0, 1))
		}
		st.Min = binary.LittleEndian.AppendUint32(nil, math.Float32bits(lo))
		st.Max = binary.LittleEndian.AppendUint32(nil, math.Float32bits(hi))
	case *array.Float64:
		lo, hi := s.minF, s.maxF
		if lo == 0 {
			lo = math.Copysign(0, -1)
		}
		if hi == 0 {
			hi = math.Copysign(0, 1)
		}
		st.Min = binary.LittleEndian.AppendUint64(nil, math.Float64bits(lo))
		st.Max = binary.LittleEndian.AppendUint64(nil, math.Float64bits(hi))
	}
	return st
}

// appendPlainBulk appends values lo to hi of a, an array without NULLs in them whose PLAIN
// form is its Arrow bytes (int32, int64, float32, float64, date32, time64, timestamp), to dst
// at once, and returns their statistics as PlainFragment computes them (statAcc's encoded);
// false, and dst as it was, for other arrays and for NULLs. It is PlainFragment without a
// call per value.
func appendPlainBulk(dst []byte, a arrow.Array, lo, hi int) ([]byte, metadata.EncodedStatistics, bool) {
	if a.NullN() > 0 && bitutil.CountSetBits(a.NullBitmapBytes(), a.Data().Offset()+lo, hi-lo) != hi-lo {
		return dst, metadata.EncodedStatistics{}, false
	}
	var s statAcc
	s.init(a)
	var width int
	switch a := a.(type) {
	case *array.Int32:
		s.minI, s.maxI, s.has = minMaxInt(a.Int32Values()[lo:hi])
		width = 4
	case *array.Date32:
		s.minI, s.maxI, s.has = minMaxInt(a.Date32Values()[lo:hi])
		width = 4
	case *array.Int64:
		s.minI, s.maxI, s.has = minMaxInt(a.Int64Values()[lo:hi])
		width = 8
	case *array.Time64:
		s.minI, s.maxI, s.has = minMaxInt(a.Time64Values()[lo:hi])
		width = 8
	case *array.Timestamp:
		s.minI, s.maxI, s.has = minMaxInt(a.TimestampValues()[lo:hi])
		width = 8
	case *array.Float32:
		s.minF, s.maxF, s.has = minMaxFloat(a.Float32Values()[lo:hi])
		width = 4
	case *array.Float64:
		s.minF, s.maxF, s.has = minMaxFloat(a.Float64Values()[lo:hi])
		width = 8
	default:
		return dst, metadata.EncodedStatistics{}, false
	}
	off := a.Data().Offset()
	raw := a.Data().Buffers()[1].Bytes()[(off+lo)*width : (off+hi)*width]
	return append(dst, raw...), s.encoded(), true
}

// minMaxInt is the least and greatest of v, and whether v has any.
func minMaxInt[T ~int32 | ~int64](v []T) (lo, hi int64, ok bool) {
	if len(v) == 0 {
		return 0, 0, false
	}
	l, h := v[0], v[0]
	for _, x := range v[1:] {
		l, h = min(l, x), max(h, x)
	}
	return int64(l), int64(h), true
}

// minMaxFloat is the least and greatest of v, NaN left out, and whether v has any other.
func minMaxFloat[T ~float32 | ~float64](v []T) (lo, hi float64, ok bool) {
	for _, x := range v {
		if x != x { // NaN
			continue
		}
		if !ok {
			lo, hi, ok = float64(x), float64(x), true
			continue
		}
		lo, hi = min(lo, float64(x)), max(hi, float64(x))
	}
	return lo, hi, ok
}
