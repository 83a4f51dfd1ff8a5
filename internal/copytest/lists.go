package copytest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// Epoch shifts from 2000-01-01 to 1970-01-01, for dates and timestamps at their bounds.
const (
	pgEpochDays   = 10957
	pgEpochMicros = 946684800000000
)

// ListElem is an element type of one-dimensional array columns, with a generator of valid
// wire values.
type ListElem struct {
	Desc  *pgarrow.TypeDesc
	Opts  pgarrow.PlanOptions
	Value func(rng *rand.Rand) []byte
}

// ListElemTypes are the element types of the CPU decoder's flat-list path (bool, every
// fixed-width scalar, strings, binary; one int4 whose arrays' element OID is not checked),
// then two it leaves to its tree path (interval, uuid), each with valid random values:
// specials, bounds, empty and long strings.
func ListElemTypes() []ListElem {
	base := func(oid uint32) *pgarrow.TypeDesc {
		return &pgarrow.TypeDesc{OID: oid, Typmod: -1, SendOID: oid}
	}
	fixed := func(n int) func(*rand.Rand) []byte {
		return func(rng *rand.Rand) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}
	}
	pick := func(specials []uint64, width int) func(*rand.Rand) []byte {
		return func(rng *rand.Rand) []byte {
			if rng.IntN(3) == 0 {
				v := specials[rng.IntN(len(specials))]
				if width == 4 {
					return Int32(int32(v))
				}
				return Int64(int64(v))
			}
			if width == 4 { // a day count whose shift to 1970 fits int32: decoders refuse the others
				return Int32(int32(rng.Int64N(math.MaxInt32-pgEpochDays) - rng.Int64N(math.MaxInt32)))
			}
			return Int64(int64(rng.Uint64() >> 2)) // in range for the timestamp shift
		}
	}
	dates := []uint64{math.MaxInt32, 1 << 31, math.MaxInt32 - pgEpochDays - 1, 1<<31 + 1, 0, 1<<32 - 1}
	stamps := []uint64{math.MaxInt64, 1 << 63, math.MaxInt64 - pgEpochMicros - 1, 1<<63 + 1, 0, 1<<64 - 1}
	money := base(pgarrow.MoneyOID)
	money.MoneyScale = 2
	noOID := base(pgtype.Int4OID)
	noOID.SendOID = 0
	varchar := base(pgtype.VarcharOID)
	varchar.Typmod = 14
	return []ListElem{
		{base(pgtype.BoolOID), pgarrow.PlanOptions{}, fixed(1)},
		{base(pgtype.Int2OID), pgarrow.PlanOptions{}, fixed(2)},
		{base(pgtype.Int4OID), pgarrow.PlanOptions{}, fixed(4)},
		{noOID, pgarrow.PlanOptions{}, fixed(4)},
		{base(pgtype.Int8OID), pgarrow.PlanOptions{}, fixed(8)},
		{base(pgtype.Float4OID), pgarrow.PlanOptions{}, fixed(4)},
		{base(pgtype.Float8OID), pgarrow.PlanOptions{}, fixed(8)},
		{base(pgtype.OIDOID), pgarrow.PlanOptions{}, fixed(4)},
		{base(pgtype.XID8OID), pgarrow.PlanOptions{}, fixed(8)},
		{base(pgtype.DateOID), pgarrow.PlanOptions{}, pick(dates, 4)},
		{base(pgtype.TimestampOID), pgarrow.PlanOptions{}, pick(stamps, 8)},
		{base(pgtype.TimestamptzOID), pgarrow.PlanOptions{}, pick(stamps, 8)},
		{base(pgtype.TimeOID), pgarrow.PlanOptions{}, fixed(8)},
		{base(pgtype.TimeOID), pgarrow.PlanOptions{Profile: pgarrow.ProfileSpark}, fixed(8)},
		{money, pgarrow.PlanOptions{}, fixed(8)},
		{base(pgtype.TextOID), pgarrow.PlanOptions{}, listString},
		{varchar, pgarrow.PlanOptions{}, listString},
		{base(pgtype.ByteaOID), pgarrow.PlanOptions{}, listString},
		// Left to the tree path.
		{base(pgtype.IntervalOID), pgarrow.PlanOptions{}, fixed(16)},
		{base(pgtype.UUIDOID), pgarrow.PlanOptions{}, fixed(16)},
	}
}

// listString is a random string element: empty, long, or short.
func listString(rng *rand.Rand) []byte {
	switch rng.IntN(8) {
	case 0:
		return []byte{}
	case 1:
		return []byte(strings.Repeat("long é 😀 ", 100+rng.IntN(1000)))
	default:
		return fmt.Appendf(nil, "%c%d", 'a'+rng.IntN(26), rng.IntN(100))
	}
}

// ListColumns are one-dimensional array columns "a0", "a1", ... of every ListElemTypes type,
// then "a2d", a two-dimensional int4 array, and "axml", an array of a type without native
// decoding (exported as text[]).
func ListColumns() []pgarrow.Column {
	var cols []pgarrow.Column
	for i, e := range ListElemTypes() {
		t := &pgarrow.TypeDesc{OID: 100000 + uint32(i), Class: pgarrow.ClassArray, Dims: 1, Elem: e.Desc}
		cols = append(cols, pgarrow.PlanType(fmt.Sprintf("a%d", i), t, "array", e.Opts))
	}
	i4 := &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}
	xml := &pgarrow.TypeDesc{OID: pgtype.XMLOID, Typmod: -1, SendOID: pgtype.XMLOID}
	return append(cols,
		pgarrow.PlanType("a2d", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 2, Elem: i4}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanType("axml", &pgarrow.TypeDesc{OID: 143, Class: pgarrow.ClassArray, Dims: 1, Elem: xml}, "xml[]", pgarrow.PlanOptions{}))
}

// ElemOID is the element type OID list column c's arrays name.
func ElemOID(c pgarrow.Column) uint32 {
	if oid := c.Children[0].SendOID; oid != 0 {
		return oid
	}
	return c.Children[0].TypeOID
}

// RandomArray is a random array value of list column c (one or two dimensions, as planned)
// with elements from gen, NULL at rate nullElem: mostly 0 to 4 elements, sometimes up to 99,
// an empty array sent without dimension (as PostgreSQL sends it) or, one-dimensional, with
// size 0.
func RandomArray(rng *rand.Rand, c pgarrow.Column, gen func(*rand.Rand) []byte, nullElem float64) []byte {
	dims := []int32{int32(rng.IntN(5))}
	if rng.IntN(20) == 0 {
		dims[0] = int32(rng.IntN(100))
	}
	if c.Dims == 2 {
		dims = append(dims, int32(rng.IntN(3)))
	}
	n := int32(1)
	for _, d := range dims {
		n *= d
	}
	vals := make([][]byte, n)
	for i := range vals {
		if rng.Float64() >= nullElem {
			vals[i] = gen(rng)
		}
	}
	lbs := make([]int32, len(dims))
	for i := range lbs {
		lbs[i] = 1
	}
	if n == 0 && (len(dims) > 1 || rng.IntN(2) == 0) {
		dims, lbs = nil, nil // a size-0 dimension beside others is refused (no element count fits)
	}
	return Array(ElemOID(c), dims, lbs, vals...)
}

// RandomListChunk is rows tuples of ListColumns: arrays NULL at rate nullArr, elements at rate
// nullElem, some empty. Every value is valid.
func RandomListChunk(rng *rand.Rand, rows int, nullArr, nullElem float64) *pgcopy.Chunk {
	cols := ListColumns()
	elems := ListElemTypes()
	tuples := make([][]byte, rows)
	for r := range tuples {
		fields := make([][]byte, len(cols))
		for ci, c := range cols {
			if rng.Float64() < nullArr {
				continue
			}
			var gen func(*rand.Rand) []byte
			switch {
			case ci < len(elems):
				gen = elems[ci].Value
			case c.Name == "axml":
				gen = func(rng *rand.Rand) []byte { return fmt.Appendf(nil, "<x>%d</x>", rng.IntN(100)) }
			default:
				gen = func(rng *rand.Rand) []byte { return Int32(int32(rng.Uint32())) }
			}
			fields[ci] = RandomArray(rng, c, gen, nullElem)
		}
		tuples[r] = Tuple(fields...)
	}
	data, starts := RowStarts(tuples...)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "lists", StreamOffset: 100, FirstRow: 10}
}

// MalformedArray is a malformed value of one of ListColumns' columns, Col, in the middle of
// three rows whose other rows hold Good in that column (and NULL elsewhere): every decoder must
// refuse it with the CPU decoder's error, in that row and column.
type MalformedArray struct {
	Name string
	Col  string
	Val  []byte
	Good []byte
}

// MalformedArrays are the malformed one-dimensional arrays both decoders' tests refuse: bad
// headers, dimensions, lower bounds, sizes, element lengths and OIDs, trailing and missing
// bytes, and dates and timestamps past what Arrow holds.
func MalformedArrays() []MalformedArray {
	i4, txt, date, ts := "a2", "a15", "a9", "a10"
	one := []int32{1}
	set := func(b []byte, at int, v uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint32(b[at:], v)
		return b
	}
	good := Array(pgtype.Int4OID, []int32{2}, one, Int32(1), nil)
	goodText := Array(pgtype.TextOID, []int32{2}, one, []byte("ab"), nil)
	cases := []MalformedArray{
		{"short header", i4, good[:11], nil},
		{"header only", i4, good[:12], nil},
		{"no dimension header", i4, good[:19], nil},
		{"flags 2", i4, set(good, 4, 2), nil},
		{"flags -1", i4, set(good, 4, 0xffffffff), nil},
		{"element oid", i4, set(good, 8, pgtype.Int8OID), nil},
		{"element oid of empty", i4, Array(pgtype.TextOID, nil, nil), nil},
		{"empty with trailing", i4, append(Array(pgtype.Int4OID, nil, nil), 0), nil},
		{"ndim 2", i4, Array(pgtype.Int4OID, []int32{1, 1}, []int32{1, 1}, Int32(1)), nil},
		{"ndim -1", i4, set(good, 0, 0xffffffff), nil},
		{"ndim 7", i4, set(good, 0, 7), nil},
		{"lower bound 0", i4, set(good, 16, 0), nil},
		{"lower bound 2", i4, set(good, 16, 2), nil},
		{"size -1", i4, set(good, 12, 0xffffffff), nil},
		{"size 3", i4, set(good, 12, 3), nil},
		{"size huge", i4, set(good, 12, 0x7fffffff), nil},
		{"size 1 trailing", i4, set(good, 12, 1), nil},
		{"element length -2", i4, set(good, 20, 0xfffffffe), nil},
		{"element length 8", i4, set(good, 20, 8), nil},
		{"element length 3", i4, set(good, 20, 3), nil},
		{"element past end", i4, set(good, 28, 4), nil},
		{"truncated element", i4, good[:len(good)-1], nil},
		{"trailing byte", i4, append(bytes.Clone(good), 0), nil},
		{"text past end", txt, set(goodText, 20, 100), nil},
		{"text length -5", txt, set(goodText, 20, 0xfffffffb), nil},
		{"text trailing", txt, append(bytes.Clone(goodText), 'x'), nil},
		{"text wrong oid", txt, set(goodText, 8, pgtype.VarcharOID), nil},
		{"date past int32", date, Array(pgtype.DateOID, one, one, Int32(math.MaxInt32-pgEpochDays)), nil},
		{"date max-1", date, Array(pgtype.DateOID, one, one, Int32(math.MaxInt32-1)), nil},
		{"timestamp past int64", ts, Array(pgtype.TimestampOID, one, one, Int64(math.MaxInt64-pgEpochMicros)), nil},
		{"second element bad", i4, Array(pgtype.Int4OID, []int32{2}, one, Int32(1), Int16(1)), nil},
	}
	for i := range cases {
		switch cases[i].Col {
		case i4:
			cases[i].Good = good
		case txt:
			cases[i].Good = goodText
		}
	}
	return cases
}

// Chunk is the three rows of m (Good, Val, Good in m's column of cols, NULL elsewhere), the
// malformed value in the chunk's row FirstRow+1 (row 4).
func (m MalformedArray) Chunk(cols []pgarrow.Column) *pgcopy.Chunk {
	fields := make([][]byte, len(cols))
	ci := -1
	for i, c := range cols {
		if c.Name == m.Col {
			ci = i
		}
	}
	if ci < 0 {
		panic(fmt.Sprintf("copytest: no column %s", m.Col))
	}
	fields[ci] = m.Good
	row := Tuple(fields...)
	fields[ci] = m.Val
	data, starts := RowStarts(row, Tuple(fields...), row)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: m.Name, StreamOffset: 7, FirstRow: 3}
}
