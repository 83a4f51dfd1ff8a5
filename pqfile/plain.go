package pqfile

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// RawPage is an uncompressed data page of PlainPages: its bytes (definition levels, then
// values), its rows and its statistics.
type RawPage struct {
	Data      []byte
	NumValues int32
	Stats     metadata.EncodedStatistics
}

// PlainPages encodes a fixed-width column (int16 as INT32, int32, int64, float32, float64,
// date32, time64, timestamp)
// the way the GPU writer's kernel does (device.EncodePlain is compared with it byte for
// byte): pages of at most pageRows rows (one empty page for no rows), each its definition
// levels (nullable: one bit-packed run of the RLE/bit-packed hybrid, 4-byte length prefixed)
// then the non-NULL values PLAIN (little-endian); exact min, max (NaN left out, zero as -0.0
// and +0.0, as parquet-mr writes them) and NULL count per page, and for the whole chunk.
func PlainPages(a arrow.Array, nullable bool, pageRows int) ([]RawPage, metadata.EncodedStatistics, error) {
	if pageRows < 1 {
		return nil, metadata.EncodedStatistics{}, fmt.Errorf("pqfile: %d rows per page", pageRows)
	}
	if !nullable && a.NullN() > 0 {
		return nil, metadata.EncodedStatistics{}, fmt.Errorf("pqfile: %d NULLs in a required column", a.NullN())
	}
	put, err := plainOf(a)
	if err != nil {
		return nil, metadata.EncodedStatistics{}, err
	}
	var pages []RawPage
	var chunk statAcc
	chunk.init(a)
	for start := 0; start < a.Len() || (start == 0 && a.Len() == 0); start += pageRows {
		end := min(start+pageRows, a.Len())
		var raw []byte
		if nullable {
			levels := defLevels(a, start, end)
			raw = binary.LittleEndian.AppendUint32(raw, uint32(len(levels)))
			raw = append(raw, levels...)
		}
		var page statAcc
		page.init(a)
		for i := start; i < end; i++ {
			if a.IsNull(i) {
				page.nulls++
				chunk.nulls++
				continue
			}
			raw = put(raw, i)
			page.add(i)
			chunk.add(i)
		}
		pages = append(pages, RawPage{Data: raw, NumValues: int32(end - start), Stats: page.encoded()})
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
		out.Pages[i] = Page{Data: cod.Encode(nil, p.Data), UncompressedSize: int32(len(p.Data)), NumValues: p.NumValues,
			Encoding: parquet.Encodings.Plain, Stats: p.Stats}
	}
	return out, nil
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
	}
	return nil, fmt.Errorf("pqfile: PLAIN encoding of %s is not supported", a.DataType())
}

// defLevels encodes the definition levels of rows [start, end) (1: a value, 0: NULL) as one
// bit-packed run of the RLE/bit-packed hybrid, bit width 1: a header (groups of 8 << 1 | 1),
// then the levels least significant bit first, the last group padded with zeros.
func defLevels(a arrow.Array, start, end int) []byte {
	groups := (end - start + 7) / 8
	b := binary.AppendUvarint(nil, uint64(groups)<<1|1)
	bits := make([]byte, groups)
	for i := start; i < end; i++ {
		if a.IsValid(i) {
			bits[(i-start)/8] |= 1 << ((i - start) % 8)
		}
	}
	return append(b, bits...)
}

// statAcc accumulates the statistics of a fixed-width column's values.
type statAcc struct {
	a          arrow.Array
	nulls      int64
	has        bool
	minI, maxI int64
	minF, maxF float64
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
		if math.IsNaN(v) {
			return
		}
		if !s.has {
			s.minF, s.maxF = v, v
		}
		s.minF, s.maxF = min(s.minF, v), max(s.maxF, v)
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
	if !s.has || v < s.minI {
		s.minI = v
	}
	if !s.has || v > s.maxI {
		s.maxI = v
	}
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
